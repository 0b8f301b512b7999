"""The connection to the API server and typed, blocking calls on it: the only importer of `kubernetes`.

Answers are read as raw JSON (`_preload_content=False`: the client's model deserialisation is slow,
and the manifests loader converts objects itself) and handed on as the TypedDicts of `resources`.
Errors leave this module as `ApiError` (the server answered with an error `Status`), `StreamBroken`
(it answered something unreadable) or a transport error (no answer: `TRANSPORT_ERRORS`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import urllib3
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader as _InClusterConfigLoader

from ingressctl.model import ConfigError, IngressctlError
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.kubernetes.errors import describe_api_error, describe_transport_error
from ingressctl.providers.kubernetes.kinds import Kind, describe_scope
from ingressctl.providers.kubernetes.resources import (
    GatewayApiStatusUpdate,
    IngressStatusUpdate,
    KubeObject,
    Lease,
    Node,
    ObjectList,
    Pod,
    SecretObject,
    ServiceObject,
)

SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICEACCOUNT_ENV = "INGRESSCTL_SERVICEACCOUNT_DIR"
LIST_PAGE_SIZE = 500
TOKEN_REFRESH_SECONDS = 60.0  # how often a service account token file is read again (as client-go does)

# Errors that mean "the connection or the stream broke", as opposed to an answer from the server.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

# The config loaders are untyped; give them one typed name each.
_load_kube_config: Callable[..., None] = kconfig.load_kube_config
_list_kube_config_contexts: Callable[..., tuple[list[dict[str, Any]], dict[str, Any] | None]] = (
    kconfig.list_kube_config_contexts
)
InClusterConfigLoader: Callable[..., Any] = _InClusterConfigLoader


# ====================================================================== connecting


class ApiClient(Protocol):
    """What the rest of the package may do with a `kubernetes.client.ApiClient`: close it."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Connection:
    """An API client and what to call its server in messages."""

    api: ApiClient
    endpoint: str
    source: str  # "in-cluster", "kubeconfig /path (context x)", "[kubernetes] endpoint"
    namespace: str = "default"  # the pod's / the kubeconfig context's namespace

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()


def serviceaccount_dir(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(SERVICEACCOUNT_ENV) or SERVICEACCOUNT_DIR)


def _finish(configuration: Any, pool_size: int) -> ApiClient:
    # Our loops own retrying (with back-off and a status line); urllib3's silent retries would hide
    # outages and multiply timeouts. One pooled connection per watch stream avoids pool-full churn.
    configuration.retries = False
    configuration.connection_pool_maxsize = max(pool_size, 4)
    return cast(ApiClient, kclient.ApiClient(configuration))


def connect(
    config: KubernetesConfig,
    *,
    sa_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
    pool_size: int = 16,
) -> Connection:
    """Build a client from, in order: `[kubernetes] endpoint`; `--kubeconfig`/`--context`/`KUBECONFIG`;
    the in-cluster service account (when `KUBERNETES_SERVICE_HOST` is set); `~/.kube/config`.

    Raises ConfigError naming what is missing or broken.
    """
    env = dict(os.environ if environ is None else environ)
    sa = serviceaccount_dir(sa_dir, env)
    in_cluster = bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"))
    pod_namespace = _read_text(sa / "namespace") or "default"

    if config.endpoint:
        configuration: Any = kclient.Configuration(host=config.endpoint.rstrip("/"))
        token = config.token or (_read_text(sa / "token") if in_cluster else "")
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}
        if not config.token and in_cluster:
            # Projected service account tokens rotate: read the file again now and then.
            configuration.refresh_api_key_hook = _token_refresher(sa / "token")
        ca = config.cert_auth_file_path or (
            str(sa / "ca.crt") if in_cluster and (sa / "ca.crt").exists() else ""
        )
        if ca:
            if not Path(ca).is_file():
                raise ConfigError(f"[kubernetes] certAuthFilePath {ca!r}: no such file")
            configuration.ssl_ca_cert = ca
        return Connection(
            _finish(configuration, pool_size), configuration.host, "[kubernetes] endpoint", pod_namespace
        )

    kubeconfig = config.kubeconfig or env.get("KUBECONFIG", "")
    if kubeconfig or config.context or not in_cluster:
        path = kubeconfig.split(os.pathsep)[0] if kubeconfig else os.path.expanduser("~/.kube/config")
        if not Path(path).is_file():
            if not kubeconfig and not config.context:
                raise ConfigError(
                    "no Kubernetes API to talk to: not running in a cluster (KUBERNETES_SERVICE_HOST is not "
                    "set) and no kubeconfig (~/.kube/config is missing); pass --kubeconfig or set "
                    "[kubernetes] endpoint"
                )
            raise ConfigError(f"kubeconfig {path!r}: no such file")
        configuration = kclient.Configuration()
        try:
            _load_kube_config(
                config_file=path,
                context=config.context or None,
                client_configuration=configuration,
                persist_config=False,
            )
            _, active = _list_kube_config_contexts(config_file=path)
        except ConfigException as exc:
            raise ConfigError(f"kubeconfig {path}: {exc}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"kubeconfig {path}: cannot read it: {exc}") from None
        context = config.context or (active or {}).get("name", "")
        namespace = "default"
        with contextlib.suppress(ConfigException, OSError, ValueError, TypeError):
            contexts, _ = _list_kube_config_contexts(config_file=path)
            chosen = next((c for c in contexts if c.get("name") == context), None)
            namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        source = f"kubeconfig {path}" + (f" (context {context})" if context else "")
        return Connection(_finish(configuration, pool_size), configuration.host, source, namespace)

    configuration = kclient.Configuration()
    try:
        InClusterConfigLoader(
            token_filename=str(sa / "token"), cert_filename=str(sa / "ca.crt"), environ=env
        ).load_and_set(configuration)
    except ConfigException as exc:
        raise ConfigError(
            f"in-cluster Kubernetes config from {sa}: {exc} (set {SERVICEACCOUNT_ENV} if the service account "
            "files are mounted elsewhere)"
        ) from None
    # The loader's own hook re-reads the token once a minute only: also at once when it is rotated.
    configuration.refresh_api_key_hook = _token_refresher(sa / "token")
    return Connection(_finish(configuration, pool_size), configuration.host, "in-cluster", pod_namespace)


def _token_refresher(path: Path) -> Callable[[Any], None]:
    """Read the token file again every minute (as client-go does) and as soon as it changes: the
    kubelet rotates a projected token by swapping the file, and a controller still sending the old
    one after it was revoked is refused (401) until it looks again. A stat per request is cheap."""
    last = time.monotonic()
    seen = _file_stamp(path)
    every = TOKEN_REFRESH_SECONDS

    def refresh(configuration: Any) -> None:
        nonlocal last, seen
        stamp = _file_stamp(path)
        if time.monotonic() - last < every and stamp == seen:
            return
        last, seen = time.monotonic(), stamp
        token = _read_text(path)
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}

    return refresh


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()  # follows the kubelet's ..data symlink
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# ====================================================================== errors


class ApiError(IngressctlError):
    """An answer from the API server that is an error `Status`; `str()` is the one line for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    @property
    def log_level(self) -> int:
        """ERROR for what only a person can fix (credentials, RBAC); WARNING for what may pass by itself."""
        return logging.ERROR if self.status in (401, 403) else logging.WARNING


class StreamBroken(Exception):
    """The watch stream ended in a way a healthy server never ends it (cut mid-line, garbage)."""


RECOVERABLE: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, StreamBroken)
RELEASE_ERRORS: tuple[type[BaseException], ...] = (*RECOVERABLE, ApiError)


def stalled(exc: BaseException) -> bool:
    """A read timed out: nothing came for the whole read timeout."""
    return isinstance(exc, urllib3.exceptions.ReadTimeoutError)


def cut_off(exc: BaseException) -> str | None:
    """Why the server's answer was cut off in the middle, or None when `exc` is no such error."""
    if not isinstance(exc, urllib3.exceptions.ProtocolError):
        return None
    return str(exc.args[0] if exc.args else exc)


# ====================================================================== a watch response


class WatchStream:
    """An open watch request: newline-delimited JSON events, read line by line in a thread."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    def lines(self) -> Iterator[bytes]:
        """The non-empty lines, as they arrive. A partial last line is a broken stream."""
        buffer = b""
        for chunk in self._response.stream(amt=None, decode_content=False):
            buffer += chunk
            while (cut := buffer.find(b"\n")) >= 0:
                line, buffer = buffer[:cut], buffer[cut + 1 :]
                if line.strip():
                    yield line
        if buffer.strip():
            raise StreamBroken("the watch stream ended in the middle of an event")

    def _socket(self) -> socket.socket | None:
        conn = getattr(self._response, "connection", None) or getattr(self._response, "_connection", None)
        sock = getattr(conn, "sock", None)
        return sock if isinstance(sock, socket.socket) else None

    def set_read_timeout(self, seconds: float) -> None:
        """From now on, silence for `seconds` ends the stream with a read timeout (`stalled`)."""
        sock = self._socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(seconds)

    def shutdown(self) -> None:
        """Unblock a thread reading the stream (close() alone can wait on the SSL lock the reader holds)."""
        sock = self._socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._response.release_conn()


# ====================================================================== the calls


class KubeApi:
    """Blocking calls returning raw JSON (no model deserialisation: slow, and we convert ourselves)."""

    def __init__(
        self, connection: Connection, *, connect_timeout: float = 10.0, request_timeout: float = 30.0
    ):
        self.connection = connection
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        api = connection.api
        self.core = kclient.CoreV1Api(api)
        self.networking = kclient.NetworkingV1Api(api)
        self.discovery = kclient.DiscoveryV1Api(api)
        self.coordination = kclient.CoordinationV1Api(api)
        self.custom = kclient.CustomObjectsApi(api)  # CRDs: the Gateway API

    @property
    def endpoint(self) -> str:
        return self.connection.endpoint

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.connect_timeout, read or self.request_timeout)

    def _call(
        self, verb: str, what: str, func: Callable[..., Any], *args: object, **kwargs: object
    ) -> object:
        """Run one request; errors become ApiError (an answer) or stay transport errors (no answer)."""
        kwargs.setdefault("_request_timeout", self._timeout())
        try:
            resp = func(*args, _preload_content=False, **kwargs)
            try:
                data = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            raise self._error(verb, what, exc) from None
        try:
            doc = json.loads(data)
        except ValueError:
            raise StreamBroken(f"{verb} {what}: the API server answered something that is not JSON") from None
        if not isinstance(doc, dict):
            raise StreamBroken(f"{verb} {what}: the API server answered {type(doc).__name__}, not an object")
        return doc

    def _error(self, verb: str, what: str, exc: ApiException) -> ApiError:
        status = int(getattr(exc, "status", 0) or 0)
        if status == 0:  # the client reports TLS failures as an ApiException without a status
            reason = " ".join(str(exc.reason or "").split("\n")[1:]) or str(exc.reason)
            return ApiError(0, describe_transport_error(verb, what, self.endpoint, Exception(reason)))
        message = describe_api_error(verb, what, self.endpoint, status, str(exc.reason or ""), exc.body)
        return ApiError(status, message)

    # ---------------------------------------------------------------- list / watch

    def _list_function(self, kind: Kind, namespace: str | None) -> tuple[Callable[..., Any], tuple[str, ...]]:
        if kind.custom:
            custom = self.custom
            if not kind.namespaced:
                return custom.list_cluster_custom_object, (kind.group, kind.version, kind.plural)
            if namespace:
                return custom.list_namespaced_custom_object, (
                    kind.group,
                    kind.version,
                    namespace,
                    kind.plural,
                )
            return custom.list_custom_object_for_all_namespaces, (kind.group, kind.version, kind.plural)
        core, net, disc = self.core, self.networking, self.discovery
        cluster: dict[str, Callable[..., Any]] = {
            "ingresses": net.list_ingress_for_all_namespaces,
            "ingressclasses": net.list_ingress_class,
            "services": core.list_service_for_all_namespaces,
            "endpointslices": disc.list_endpoint_slice_for_all_namespaces,
            "endpoints": core.list_endpoints_for_all_namespaces,
            "secrets": core.list_secret_for_all_namespaces,
            "namespaces": core.list_namespace,
        }
        namespaced: dict[str, Callable[..., Any]] = {
            "ingresses": net.list_namespaced_ingress,
            "services": core.list_namespaced_service,
            "endpointslices": disc.list_namespaced_endpoint_slice,
            "endpoints": core.list_namespaced_endpoints,
            "secrets": core.list_namespaced_secret,
        }
        if namespace and kind.namespaced:
            return namespaced[kind.plural], (namespace,)
        return cluster[kind.plural], ()

    def list_all(
        self, kind: Kind, namespace: str | None, *, label_selector: str = "", field_selector: str = ""
    ) -> tuple[list[KubeObject], str]:
        """Every object (following `continue`), and the resourceVersion to watch from."""
        func, args = self._list_function(kind, namespace)
        items: list[KubeObject] = []
        token: str | None = None
        version = ""
        while True:
            kwargs: dict[str, object] = {"limit": LIST_PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            if field_selector:
                kwargs["field_selector"] = field_selector
            page = cast(
                ObjectList, self._call("list", describe_scope(kind, namespace), func, *args, **kwargs)
            )
            items.extend(i for i in page.get("items") or () if isinstance(i, dict))
            meta = page.get("metadata") or {}
            # The first page's version is the snapshot's; later pages are served from that snapshot.
            version = version or str(meta.get("resourceVersion") or "")
            token = meta.get("continue") or None
            if not token:
                return items, version

    def open_watch(
        self,
        kind: Kind,
        namespace: str | None,
        resource_version: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
        read_timeout: float = 150.0,
    ) -> WatchStream:
        """Open a watch; `read_timeout` bounds the wait for the answer and every silence after it
        (`WatchStream.set_read_timeout` changes the latter)."""
        func, args = self._list_function(kind, namespace)
        kwargs: dict[str, object] = {
            "watch": True,
            "resource_version": resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout_seconds,
            "_preload_content": False,
            "_request_timeout": self._timeout(read_timeout),
        }
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        try:
            return WatchStream(func(*args, **kwargs))
        except ApiException as exc:
            raise self._error("watch", describe_scope(kind, namespace), exc) from None

    # ---------------------------------------------------------------- single objects

    def get_service(self, namespace: str, name: str) -> ServiceObject:
        what = f'services "{namespace}/{name}"'
        return cast(
            ServiceObject, self._call("get", what, self.core.read_namespaced_service, name, namespace)
        )

    def get_pod(self, namespace: str, name: str) -> Pod:
        what = f'pods "{namespace}/{name}"'
        return cast(Pod, self._call("get", what, self.core.read_namespaced_pod, name, namespace))

    def get_node(self, name: str) -> Node:
        return cast(Node, self._call("get", f'nodes "{name}"', self.core.read_node, name))

    def replace_ingress_status(self, namespace: str, name: str, body: IngressStatusUpdate) -> KubeObject:
        what = f'ingresses/status "{namespace}/{name}"'
        func = self.networking.replace_namespaced_ingress_status
        return cast(KubeObject, self._call("update", what, func, name, namespace, body))

    def replace_custom_status(
        self, kind: Kind, namespace: str, name: str, body: GatewayApiStatusUpdate
    ) -> KubeObject:
        """PUT the `status` subresource of a custom object (409 when `body`'s resourceVersion is stale)."""
        if kind.namespaced:
            what = f'{kind.qualified}/status "{namespace}/{name}"'
            func: Callable[..., Any] = self.custom.replace_namespaced_custom_object_status
            args: tuple[str, ...] = (kind.group, kind.version, namespace, kind.plural, name)
        else:
            what = f'{kind.qualified}/status "{name}"'
            func = self.custom.replace_cluster_custom_object_status
            args = (kind.group, kind.version, kind.plural, name)
        return cast(KubeObject, self._call("update", what, func, *args, body))

    def get_lease(self, namespace: str, name: str) -> Lease:
        what = f'leases.coordination.k8s.io "{namespace}/{name}"'
        return cast(Lease, self._call("get", what, self.coordination.read_namespaced_lease, name, namespace))

    def create_lease(self, namespace: str, body: Lease) -> Lease:
        what = f"leases.coordination.k8s.io in namespace {namespace}"
        func = self.coordination.create_namespaced_lease
        return cast(Lease, self._call("create", what, func, namespace, body))

    def replace_lease(self, namespace: str, name: str, body: Lease) -> Lease:
        what = f'leases.coordination.k8s.io "{namespace}/{name}"'
        func = self.coordination.replace_namespaced_lease
        return cast(Lease, self._call("update", what, func, name, namespace, body))

    def get_secret(self, namespace: str, name: str) -> SecretObject:
        what = f'secrets "{namespace}/{name}"'
        return cast(SecretObject, self._call("get", what, self.core.read_namespaced_secret, name, namespace))

    def create_secret(self, namespace: str, body: SecretObject) -> SecretObject:
        what = f"secrets in namespace {namespace}"
        return cast(
            SecretObject, self._call("create", what, self.core.create_namespaced_secret, namespace, body)
        )

    def replace_secret(self, namespace: str, name: str, body: SecretObject) -> SecretObject:
        what = f'secrets "{namespace}/{name}"'
        func = self.core.replace_namespaced_secret
        return cast(SecretObject, self._call("update", what, func, name, namespace, body))
