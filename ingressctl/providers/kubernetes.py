"""The Kubernetes provider: list then watch the API with the official client, publish whole Snapshots.

This is the only module that imports `kubernetes`. Everything that needs no client is in the
`kube_*` helpers next to it (cache and snapshot building, back-off, lease rules, status addresses,
error messages).

How it runs
- One *stream* per kind and scope: Ingress, IngressClass, Service, EndpointSlice (legacy Endpoints
  when the server does not serve discovery.k8s.io/v1) and Secret; namespaced kinds get one stream
  per watched namespace, or one cluster-wide stream when no namespaces are given.
- Each stream runs in its own thread, because the client blocks: LIST (paginated), then WATCH from the
  list's resourceVersion with bookmarks, as raw `_preload_content=False` responses read line by line.
  The server ends a watch after `timeoutSeconds`: re-watch from the last version seen. `410 Gone`
  (on the request or as an ERROR event): LIST again. A dropped connection, a line cut in half, or a
  stream silent for longer than `stall_timeout` (the socket read timeout; bookmarks keep a healthy
  stream talking): back off with jitter and re-watch. Errors (unreachable, 401, 403, ...) become one
  line in the provider status, and the stream keeps retrying; the cache, and so the last published
  Snapshot, stays as it was. The log says each problem once, reminds every few minutes while it lasts
  and notes the recovery (`kube_problems`); status writes and the leader Lease log the same way.
- Threads hand parsed, converted objects to the event loop through a queue; the loop applies them to
  the cache, drains whatever else is queued (bursts become one update) and publishes a Snapshot built
  from the whole cache. Nothing blocking runs on the event loop.
- Secrets: one stream per scope watches *all* Secrets (minus types that can never hold a certificate
  or htpasswd users, filtered by the server with a field selector) and the Snapshot keeps only those
  an Ingress references. A watch per referenced name would mean hundreds of connections for a large
  cluster, restarted every time an Ingress changes, racing with the Secret's own creation.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader as _InClusterConfigLoader

from ingressctl.model import ConfigError, Ingress, IngressctlError, InputError, Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.base import ProviderStatus, ProviderUpdate, Publish, ReportStatus
from ingressctl.providers.kube_backoff import Backoff
from ingressctl.providers.kube_cache import (
    ENDPOINT_SLICE,
    ENDPOINTS,
    IGNORED_SECRET_TYPES,
    INGRESS,
    INGRESS_CLASS,
    SECRET,
    SERVICE,
    Cache,
    Key,
    Kind,
    convert,
    key_of,
)
from ingressctl.providers.kube_errors import describe_api_error, describe_transport_error
from ingressctl.providers.kube_lease import LeaseObserver, LeaseRecord, claim, lease_body, released
from ingressctl.providers.kube_problems import REMINDER_SECONDS, ProblemLog
from ingressctl.providers.kube_status import (
    PublishAddress,
    address_from_service,
    current_load_balancer,
    parse_publish_address,
    parse_publish_service,
)

log = logging.getLogger("ingressctl.providers.kubernetes")

SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICEACCOUNT_ENV = "INGRESSCTL_SERVICEACCOUNT_DIR"
LIST_PAGE_SIZE = 500
TOKEN_REFRESH_SECONDS = 60.0  # how often a service account token file is read again (as client-go does)

JSON = dict[str, Any]

# Errors that mean "the connection or the stream broke", as opposed to an answer from the server.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, OSError)

# The config loaders are untyped; give them one typed name each.
_load_kube_config: Callable[..., None] = kconfig.load_kube_config
_list_kube_config_contexts: Callable[..., tuple[list[dict[str, Any]], dict[str, Any] | None]] = (
    kconfig.list_kube_config_contexts
)
InClusterConfigLoader: Callable[..., Any] = _InClusterConfigLoader


# ====================================================================== connecting


@dataclass(frozen=True, slots=True)
class Connection:
    """An API client and what to call its server in messages."""

    api: Any  # kubernetes.client.ApiClient
    endpoint: str
    source: str  # "in-cluster", "kubeconfig /path (context x)", "[kubernetes] endpoint"
    namespace: str = "default"  # the pod's / the kubeconfig context's namespace

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()


def serviceaccount_dir(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(SERVICEACCOUNT_ENV) or SERVICEACCOUNT_DIR)


def _finish(configuration: Any, pool_size: int) -> Any:
    # Our loops own retrying (with back-off and a status line); urllib3's silent retries would hide
    # outages and multiply timeouts. One pooled connection per watch stream avoids pool-full churn.
    configuration.retries = False
    configuration.connection_pool_maxsize = max(pool_size, 4)
    return kclient.ApiClient(configuration)


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
    return Connection(_finish(configuration, pool_size), configuration.host, "in-cluster", pod_namespace)


def _token_refresher(path: Path) -> Callable[[Any], None]:
    last = time.monotonic()
    every = TOKEN_REFRESH_SECONDS

    def refresh(configuration: Any) -> None:
        nonlocal last
        if time.monotonic() - last < every:
            return
        last = time.monotonic()
        token = _read_text(path)
        if token:
            configuration.api_key = {"authorization": f"Bearer {token}"}

    return refresh


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# ====================================================================== raw API calls


class ApiError(IngressctlError):
    """An answer from the API server that is an error `Status`; `str()` is the one line for people."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StreamBroken(Exception):
    """The watch stream ended in a way a healthy server never ends it (cut mid-line, garbage)."""


RECOVERABLE: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, StreamBroken)
RELEASE_ERRORS: tuple[type[BaseException], ...] = (*RECOVERABLE, ApiError)


def _scope(kind: Kind, namespace: str | None) -> str:
    if not kind.namespaced:
        return kind.qualified
    if namespace:
        return f"{kind.qualified} in namespace {namespace}"
    return f"{kind.qualified} at the cluster scope"


class KubeApi:
    """Blocking calls returning plain JSON (no model deserialisation: slow, and we convert ourselves)."""

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

    @property
    def endpoint(self) -> str:
        return self.connection.endpoint

    def _timeout(self, read: float | None = None) -> tuple[float, float]:
        return (self.connect_timeout, read or self.request_timeout)

    def call(self, verb: str, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> JSON:
        """Run one request; errors become ApiError (an answer) or stay transport errors (no answer)."""
        kwargs.setdefault("_request_timeout", self._timeout())
        try:
            resp = func(*args, _preload_content=False, **kwargs)
            try:
                data = resp.data
            finally:
                resp.release_conn()
        except ApiException as exc:
            raise self.error(verb, what, exc) from None
        try:
            doc = json.loads(data)
        except ValueError:
            raise StreamBroken(f"{verb} {what}: the API server answered something that is not JSON") from None
        if not isinstance(doc, dict):
            raise StreamBroken(f"{verb} {what}: the API server answered {type(doc).__name__}, not an object")
        return doc

    def error(self, verb: str, what: str, exc: Any) -> ApiError:
        status = int(getattr(exc, "status", 0) or 0)
        if status == 0:  # the client reports TLS failures as an ApiException without a status
            reason = " ".join(str(exc.reason or "").split("\n")[1:]) or str(exc.reason)
            return ApiError(0, describe_transport_error(verb, what, self.endpoint, Exception(reason)))
        message = describe_api_error(verb, what, self.endpoint, status, str(exc.reason or ""), exc.body)
        return ApiError(status, message)

    # ---------------------------------------------------------------- list / watch

    def _list_function(self, kind: Kind, namespace: str | None) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        core, net, disc = self.core, self.networking, self.discovery
        cluster: dict[str, Callable[..., Any]] = {
            "ingresses": net.list_ingress_for_all_namespaces,
            "ingressclasses": net.list_ingress_class,
            "services": core.list_service_for_all_namespaces,
            "endpointslices": disc.list_endpoint_slice_for_all_namespaces,
            "endpoints": core.list_endpoints_for_all_namespaces,
            "secrets": core.list_secret_for_all_namespaces,
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
    ) -> tuple[list[JSON], str]:
        """Every object (following `continue`), and the resourceVersion to watch from."""
        func, args = self._list_function(kind, namespace)
        items: list[JSON] = []
        token: str | None = None
        version = ""
        while True:
            kwargs: dict[str, Any] = {"limit": LIST_PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            if field_selector:
                kwargs["field_selector"] = field_selector
            page = self.call("list", _scope(kind, namespace), func, *args, **kwargs)
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
    ) -> Any:
        func, args = self._list_function(kind, namespace)
        kwargs: dict[str, Any] = {
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
            return func(*args, **kwargs)
        except ApiException as exc:
            raise self.error("watch", _scope(kind, namespace), exc) from None

    # ---------------------------------------------------------------- single objects

    def get_service(self, namespace: str, name: str) -> JSON:
        return self.call(
            "get", f'services "{namespace}/{name}"', self.core.read_namespaced_service, name, namespace
        )

    def replace_ingress_status(self, namespace: str, name: str, body: JSON) -> JSON:
        what = f'ingresses/status "{namespace}/{name}"'
        return self.call(
            "update", what, self.networking.replace_namespaced_ingress_status, name, namespace, body
        )

    def get_lease(self, namespace: str, name: str) -> JSON:
        what = f'leases.coordination.k8s.io "{namespace}/{name}"'
        return self.call("get", what, self.coordination.read_namespaced_lease, name, namespace)

    def create_lease(self, namespace: str, body: JSON) -> JSON:
        what = f"leases.coordination.k8s.io in namespace {namespace}"
        return self.call("create", what, self.coordination.create_namespaced_lease, namespace, body)

    def replace_lease(self, namespace: str, name: str, body: JSON) -> JSON:
        what = f'leases.coordination.k8s.io "{namespace}/{name}"'
        return self.call("update", what, self.coordination.replace_namespaced_lease, name, namespace, body)

    def get_secret(self, namespace: str, name: str) -> JSON:
        return self.call(
            "get", f'secrets "{namespace}/{name}"', self.core.read_namespaced_secret, name, namespace
        )

    def create_secret(self, namespace: str, body: JSON) -> JSON:
        what = f"secrets in namespace {namespace}"
        return self.call("create", what, self.core.create_namespaced_secret, namespace, body)

    def replace_secret(self, namespace: str, name: str, body: JSON) -> JSON:
        what = f'secrets "{namespace}/{name}"'
        return self.call("update", what, self.core.replace_namespaced_secret, name, namespace, body)


def _lines(resp: Any) -> Iterator[bytes]:
    """Newline-delimited lines of a chunked watch response. A partial last line is a broken stream."""
    buffer = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buffer += chunk
        while (cut := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            if line.strip():
                yield line
    if buffer.strip():
        raise StreamBroken("the watch stream ended in the middle of an event")


def _shutdown(resp: Any) -> None:
    """Unblock a thread reading `resp` (close() alone can wait on the SSL lock the reader holds)."""
    conn = getattr(resp, "connection", None) or getattr(resp, "_connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# ====================================================================== one watch stream


@dataclass(frozen=True, slots=True)
class StreamSpec:
    id: str
    kind: Kind
    namespace: str | None  # None: cluster scope
    label_selector: str = ""
    field_selector: str = ""


@dataclass(frozen=True, slots=True)
class Timing:
    """Every timeout of the watch loops; tests pass short ones."""

    watch_timeout: int = 300  # server-side timeoutSeconds of each watch request (jittered down to 80%)
    stall_timeout: float = 150.0  # no byte for this long (not even a bookmark): the stream is dead
    connect_timeout: float = 10.0
    request_timeout: float = 30.0  # LIST and single-object calls
    backoff: Backoff = field(default_factory=Backoff)
    # A problem that persists (a 403, an unreachable server) is logged again this often; DEBUG in between.
    problem_reminder: float = REMINDER_SECONDS


Emit = Callable[[tuple[Any, ...]], None]


@dataclass(frozen=True, slots=True)
class IngressState:
    """What the status writer needs of an Ingress as last watched."""

    resource_version: str
    load_balancer: list[dict[str, str]]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> IngressState:
        version = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        return cls(version, current_load_balancer(raw))


class _Expired(Exception):
    """410 Gone: the version we watch from is history the server forgot; LIST again."""


class StreamWorker:
    """LIST + WATCH for one kind and scope, in its own thread, until stopped."""

    def __init__(
        self, api: KubeApi, spec: StreamSpec, timing: Timing, emit: Emit, problems: ProblemLog | None = None
    ) -> None:
        self.api = api
        self.problems = problems or ProblemLog(log, reminder=timing.problem_reminder)
        self.spec = spec
        self.kind = spec.kind
        self.timing = timing
        self._emit = emit
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"kube-{spec.id}", daemon=True)
        self._resp: Any = None
        # Ingress status as last seen, so the status writer skips Ingresses that already say the right thing.
        self._ingresses: dict[Key, IngressState] = {}
        self._lb_lock = threading.Lock()

    def emit(self, message: tuple[Any, ...]) -> None:
        try:
            self._emit(message)
        except RuntimeError:  # the event loop is closed: the provider is gone
            self.stop_event.set()

    def ingress_state(self) -> dict[Key, IngressState]:
        with self._lb_lock:
            return dict(self._ingresses)

    def _set_ingress_state(self, key: Key, raw: Mapping[str, Any] | None) -> None:
        with self._lb_lock:
            if raw is None:
                self._ingresses.pop(key, None)
            else:
                self._ingresses[key] = IngressState.of(raw)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        resp = self._resp
        if resp is not None:
            _shutdown(resp)

    @property
    def what(self) -> str:
        return _scope(self.kind, self.spec.namespace)

    def _run(self) -> None:
        failures = 0
        quick = 0  # watches in a row that ended at once with nothing in them, and relists in a row
        version: str | None = None
        while not self.stop_event.is_set():
            try:
                if version is None:
                    version = self._list()
                    failures = 0
                started = time.monotonic()
                version, delivered = self._watch(version)
                failures = 0  # the server ended the watch (timeoutSeconds): re-watch at once ...
                if delivered or time.monotonic() - started >= 1.0:
                    quick = 0
                else:  # ... unless something keeps ending it at once: do not spin against the server
                    quick += 1
                    self.stop_event.wait(self.timing.backoff.delay(quick))
            except _Expired:
                quick += 1
                self._expired(version, quick)
                version = None
            except ApiError as exc:
                if exc.status == 410:  # refused on the request rather than as an ERROR event
                    quick += 1
                    self._expired(version, quick)
                    version = None
                    continue
                if exc.status == 404 and self.kind is ENDPOINT_SLICE:
                    log.info(
                        "kubernetes: EndpointSlices (discovery.k8s.io/v1) are not served by %s; "
                        "watching legacy Endpoints instead",
                        self.api.endpoint,
                    )
                    self.kind = ENDPOINTS
                    self.emit(("switch", self.spec.id, ENDPOINTS))
                    version = None
                    continue
                failures += 1
                self._failed(str(exc), failures, level=_level(exc))
            except StreamBroken as exc:
                failures += 1
                self._failed(f"{self.what}: {exc}", failures)
            except TRANSPORT_ERRORS as exc:
                if self.stop_event.is_set():
                    break
                failures += 1
                verb = "watch" if version else "list"
                self._failed(self._transport_message(verb, exc), failures)

    def _expired(self, version: str | None, in_a_row: int) -> None:
        log.info(
            "kubernetes: %s: resourceVersion %s is too old (410 Gone), listing again", self.what, version
        )
        if in_a_row > 1:  # history keeps vanishing under us: relist, but not in a tight loop
            self.stop_event.wait(self.timing.backoff.delay(in_a_row - 1))

    def _transport_message(self, verb: str, exc: BaseException) -> str:
        if isinstance(exc, urllib3.exceptions.ReadTimeoutError) and verb == "watch":
            return (
                f"the watch of {self.what} at {self.api.endpoint} stalled (nothing for "
                f"{self.timing.stall_timeout:g}s, not even a bookmark); restarting it"
            )
        if isinstance(exc, urllib3.exceptions.ProtocolError) and verb == "watch":
            cause = exc.args[0] if exc.args else exc
            return f"the watch of {self.what} at {self.api.endpoint} was cut off ({cause})"
        return describe_transport_error(verb, self.what, self.api.endpoint, exc)

    def _failed(self, message: str, failures: int, *, level: int = logging.WARNING) -> None:
        backoff = self.timing.backoff
        delay = backoff.delay(failures)
        detail = f"retrying in {delay:.1f}s ({backoff.describe(failures)})"
        self.problems.failed(self.spec.id, message, level=level, detail=detail)
        self.emit(("error", self.spec.id, message))
        self.stop_event.wait(delay)

    def _working(self) -> None:
        self.emit(("ok", self.spec.id))
        self.problems.recovered(self.spec.id, f"watch of {self.what}")

    def _list(self) -> str:
        raw_items, version = self.api.list_all(
            self.kind,
            self.spec.namespace,
            label_selector=self.spec.label_selector,
            field_selector=self.spec.field_selector,
        )
        items = []
        statuses: dict[Key, IngressState] = {}
        for raw in raw_items:
            obj, diagnostics = convert(self.kind, raw)
            key = key_of(raw)
            if self.kind is INGRESS:
                statuses[key] = IngressState.of(raw)
            if obj is not None:
                items.append((key, obj, diagnostics))
        with self._lb_lock:
            self._ingresses = statuses
        self.emit(("replace", self.spec.id, items))
        self._working()
        return version

    def _watch(self, version: str) -> tuple[str, bool]:
        """Follow the stream until it ends; the last version seen, and whether any line came at all."""
        timeout = max(1, int(self.timing.watch_timeout * random.uniform(0.8, 1.0)))
        resp = self.api.open_watch(
            self.kind,
            self.spec.namespace,
            version,
            label_selector=self.spec.label_selector,
            field_selector=self.spec.field_selector,
            timeout_seconds=timeout,
            read_timeout=self.timing.stall_timeout,
        )
        self._resp = resp
        healthy = False
        try:
            for line in _lines(resp):
                if self.stop_event.is_set():
                    break
                try:
                    event = json.loads(line)
                    kind, obj = event["type"], event["object"]
                except (ValueError, KeyError, TypeError):
                    raise StreamBroken("the watch stream sent a line that is not a JSON event") from None
                if kind == "ERROR":
                    code = int(obj.get("code") or 0) if isinstance(obj, dict) else 0
                    if code == 410:
                        raise _Expired()
                    message = obj.get("message", "") if isinstance(obj, dict) else str(obj)
                    raise ApiError(code, f"watch {self.what}: the server sent an error: {code} {message}")
                if not healthy:
                    healthy = True
                    self._working()
                meta = obj.get("metadata") or {}
                version = str(meta.get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                key = key_of(obj)
                if kind == "DELETED":
                    self._set_ingress_state(key, None)
                    self.emit(("remove", self.spec.id, key))
                    continue
                if self.kind is INGRESS:
                    self._set_ingress_state(key, obj)
                converted, diagnostics = convert(self.kind, obj)
                if converted is not None:
                    self.emit(("upsert", self.spec.id, key, converted, diagnostics))
        finally:
            self._resp = None
            with contextlib.suppress(Exception):
                resp.release_conn()
        return version, healthy


# ====================================================================== the provider


def _level(exc: ApiError) -> int:
    """ERROR for what only a person can fix (credentials, RBAC); WARNING for what may pass by itself."""
    return logging.ERROR if exc.status in (401, 403) else logging.WARNING


def _secret_field_selector() -> str:
    return ",".join(f"type!={t}" for t in IGNORED_SECRET_TYPES)


def stream_specs(namespaces: Sequence[str], label_selector: str) -> list[StreamSpec]:
    scopes: list[str | None] = list(dict.fromkeys(namespaces)) or [None]
    specs = [StreamSpec("ingressclasses", INGRESS_CLASS, None)]
    for ns in scopes:
        suffix = f"@{ns}" if ns else ""
        specs += [
            StreamSpec(f"ingresses{suffix}", INGRESS, ns, label_selector=label_selector),
            StreamSpec(f"services{suffix}", SERVICE, ns),
            StreamSpec(f"endpointslices{suffix}", ENDPOINT_SLICE, ns),
            StreamSpec(f"secrets{suffix}", SECRET, ns, field_selector=_secret_field_selector()),
        ]
    return specs


class KubernetesProvider:
    """Publishes a Snapshot of the cluster's Ingresses, Services, endpoints, Secrets and IngressClasses.

    config: the `[kubernetes]` settings (endpoint/token/certAuthFilePath, kubeconfig/context).
    namespaces / label_selector: override `config.namespaces` / `config.label_selector` when given
      (the label selector applies to Ingresses only; the ingress class is the compiler's business).
    serviceaccount_dir: where the in-cluster token/ca.crt/namespace files are
      (default `$INGRESSCTL_SERVICEACCOUNT_DIR`, else /var/run/secrets/kubernetes.io/serviceaccount).
    timing: watch/stall/request timeouts and the back-off.
    connection: an already built Connection (tests, or sharing one with the leader elector).
    """

    name = "kubernetes"

    def __init__(
        self,
        config: KubernetesConfig,
        *,
        namespaces: Sequence[str] | None = None,
        label_selector: str | None = None,
        serviceaccount_dir: str | None = None,
        timing: Timing | None = None,
        connection: Connection | None = None,
    ) -> None:
        self.config = config
        self.namespaces = tuple(config.namespaces if namespaces is None else namespaces)
        self.label_selector = config.label_selector if label_selector is None else label_selector
        self.serviceaccount_dir = serviceaccount_dir
        self.timing = timing or Timing()
        self._connection = connection
        self._workers: list[StreamWorker] = []
        self._cache = Cache()
        self._errors: dict[str, str] = {}
        self._last_sync: float | None = None
        self._last_published: Snapshot | None = None
        # Every address this process wrote into Ingress status (usually one; a Service's can change).
        self._published_addresses: list[list[dict[str, str]]] = []
        self._served_keys: set[Key] = set()  # Ingresses the last status pass published to
        self._last_status: ProviderStatus | None = None
        # Shared by the streams (keyed by stream id) and the status writer.
        self._problems = ProblemLog(log, reminder=self.timing.problem_reminder)

    # ---------------------------------------------------------------- connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = connect(
                self.config,
                sa_dir=self.serviceaccount_dir,
                pool_size=len(stream_specs(self.namespaces, "")) + 4,
            )
        return self._connection

    def api(self) -> KubeApi:
        return KubeApi(
            self.connection,
            connect_timeout=self.timing.connect_timeout,
            request_timeout=self.timing.request_timeout,
        )

    # ---------------------------------------------------------------- watch loop

    async def run(self, publish: Publish, report: ReportStatus) -> None:
        try:
            api = await asyncio.to_thread(self.api)
        except ConfigError as exc:  # nothing to retry: the configuration itself is wrong
            report(ProviderStatus(self.name, healthy=False, message=str(exc)))
            raise
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

        def emit(message: tuple[Any, ...]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, message)

        specs = stream_specs(self.namespaces, self.label_selector)
        self._cache = Cache()
        for spec in specs:
            self._cache.add_stream(spec.id, spec.kind)
        self._workers = [StreamWorker(api, spec, self.timing, emit, self._problems) for spec in specs]
        scope = ", ".join(self.namespaces) or "all namespaces"
        log.info(
            "kubernetes: watching %s (%s) at %s via %s%s",
            scope,
            ", ".join(s.id for s in specs),
            api.endpoint,
            self.connection.source,
            f", Ingresses matching {self.label_selector!r}" if self.label_selector else "",
        )
        report(ProviderStatus(self.name, healthy=False, message=f"listing from {api.endpoint}"))
        for worker in self._workers:
            worker.start()
        try:
            while True:
                changed = self._apply(await queue.get())
                while not queue.empty():
                    changed = self._apply(queue.get_nowait()) or changed
                if changed and self._cache.synced:
                    snapshot, diagnostics = self._cache.snapshot()
                    if snapshot != self._last_published:
                        self._last_published = snapshot
                        self._last_sync = time.time()
                        publish(ProviderUpdate(self.name, snapshot, diagnostics))
                self._report(report)
        finally:
            await self._stop_workers()

    def _apply(self, message: tuple[Any, ...]) -> bool:
        action, stream = message[0], message[1]
        if action == "replace":
            self._cache.replace(stream, message[2])
            self._errors.pop(stream, None)
            return True
        if action == "upsert":
            self._cache.upsert(stream, message[2], message[3], message[4])
            return True
        if action == "remove":
            self._cache.remove(stream, message[2])
            return True
        if action == "switch":
            self._cache.switch_kind(stream, message[2])
            return False
        if action == "error":
            self._errors[stream] = message[2]
        elif action == "ok":
            self._errors.pop(stream, None)
        return False

    def _report(self, report: ReportStatus) -> None:
        status = self._status()
        if status is not None and status != self._last_status:
            self._last_status = status
            report(status)

    def _status(self) -> ProviderStatus | None:
        if self._errors:
            first = self._errors[sorted(self._errors)[0]]
            more = f" (and {len(self._errors) - 1} more streams failing)" if len(self._errors) > 1 else ""
            kept = "; keeping the last good configuration" if self._last_published is not None else ""
            message = f"{first}{more}{kept}"
            return ProviderStatus(self.name, healthy=False, message=message, last_sync=self._last_sync)
        if self._cache.synced:
            return ProviderStatus(self.name, healthy=True, last_sync=self._last_sync)
        return None

    async def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

        def join() -> None:
            deadline = time.monotonic() + 2.0
            for worker in workers:
                worker.thread.join(max(0.0, deadline - time.monotonic()))

        # Shielded: a second cancellation must not leave threads reading sockets we are closing.
        await asyncio.shield(asyncio.to_thread(join))

    @property
    def threads(self) -> list[threading.Thread]:
        return [w.thread for w in self._workers]

    # ---------------------------------------------------------------- status

    async def resolve_publish_address(
        self, *, publish_service: str = "", publish_address: str = ""
    ) -> PublishAddress:
        """`--publish-address` wins; else the addresses of `--publish-service NS/NAME`."""
        if publish_address:
            return parse_publish_address(publish_address)
        if not publish_service:
            return PublishAddress()
        return await self.resolve_publish_service_address(publish_service)

    async def resolve_publish_service_address(self, publish_service: str) -> PublishAddress:
        """The addresses of Service NS/NAME (load balancer, else external IPs, else cluster IP)."""
        namespace, name = parse_publish_service(publish_service)
        service = await asyncio.to_thread(lambda: self.api().get_service(namespace, name))
        return address_from_service(service)

    async def publish_status(self, ingresses: Iterable[Ingress], address: PublishAddress) -> int:
        """Write `status.loadBalancer.ingress` of each Ingress that does not already say `address`.

        Needs the watch running: what each Ingress says now (and its resourceVersion) comes from the
        watch, so the only API call is the write itself (RBAC: `update` on `ingresses/status`, no `get`).
        A write that loses a race (409) waits for the watch to bring the newer version and tries again.
        An Ingress this process served that is served no more, and still holds an address this
        process wrote, is cleared. Returns how many were written. A failed write does not stop the
        others; the failures of one pass are logged as one problem (see kube_problems: once,
        reminders, a line when writes work again).
        """
        workers = [w for w in self._workers if w.kind is INGRESS]

        def state() -> dict[Key, IngressState]:
            known: dict[Key, IngressState] = {}
            for worker in workers:
                known.update(worker.ingress_state())
            return known

        desired = address.load_balancer_ingress()
        if desired and desired not in self._published_addresses:
            self._published_addresses.append(desired)
        served = {(i.meta.namespace, i.meta.name) for i in ingresses}
        writes = [(key, desired) for key in sorted(served)]
        # An Ingress we served that is no longer ours (its class changed, it left the selection)
        # still shows our address: clear it while it says what we wrote. Only Ingresses this
        # process served: another controller publishing the same address is never fought.
        gone = self._served_keys - served
        known = state() if gone else {}  # a copy of every Ingress state: only when needed
        stale = sorted(
            key for key in gone if key in known and known[key].load_balancer in self._published_addresses
        )
        self._served_keys = served | set(stale)
        writes += [(key, []) for key in stale]
        return await asyncio.to_thread(_write_statuses, self.api(), writes, state, self._problems)


STATUS_PROBLEM = "ingress-status"


def _write_statuses(
    api: KubeApi,
    writes: list[tuple[Key, list[dict[str, str]]]],
    state: Callable[[], Mapping[Key, IngressState]],
    problems: ProblemLog,
) -> int:
    written = 0
    failures: list[tuple[str, ApiError | BaseException]] = []
    for (namespace, name), desired in writes:
        for attempt in range(3):
            known = state().get((namespace, name))
            if known is None:
                log.warning(
                    "kubernetes: not writing the status of Ingress %s/%s: it is not (yet) in the watch",
                    namespace,
                    name,
                )
                break
            if known.load_balancer == desired:
                break
            body = {
                "apiVersion": INGRESS.api_version,
                "kind": INGRESS.kind,
                "metadata": {"name": name, "namespace": namespace, "resourceVersion": known.resource_version},
                "status": {"loadBalancer": {"ingress": desired}},
            }
            try:
                api.replace_ingress_status(namespace, name, body)
            except ApiError as exc:
                if exc.status == 409 and attempt < 2:  # changed under us: wait for the watch to catch up
                    _wait_for_change(state, (namespace, name), known.resource_version)
                    continue
                if exc.status != 404:
                    failures.append((f"{namespace}/{name}", exc))
                break
            except RECOVERABLE as exc:
                failures.append((f"{namespace}/{name}", exc))
                break
            written += 1
            log.info("kubernetes: Ingress %s/%s status set to %s", namespace, name, desired or "(none)")
            break
    if failures:
        _status_problem(problems, failures, api.endpoint)
    else:
        problems.recovered(STATUS_PROBLEM, "writing Ingress status")
    return written


def _status_problem(
    problems: ProblemLog, failures: list[tuple[str, ApiError | BaseException]], endpoint: str
) -> None:
    """One problem for a pass, whatever the number of Ingresses: with RBAC wrong, every write fails alike."""
    first, exc = failures[0]
    if len(failures) == 1:
        subject = f"Ingress {first}"
    else:
        names = ", ".join(name for name, _ in failures[:3])
        subject = f"{len(failures)} Ingresses ({names}{', ...' if len(failures) > 3 else ''})"
    if isinstance(exc, ApiError):
        signature, level, cause = f"api {exc.status}", _level(exc), str(exc)
    elif isinstance(exc, StreamBroken):
        signature, level, cause = "broken", logging.WARNING, str(exc)
    else:
        signature, level = f"transport {type(exc).__name__}", logging.WARNING
        cause = describe_transport_error("update", "ingresses/status", endpoint, exc)
    problems.failed(
        STATUS_PROBLEM, f"cannot write the status of {subject}: {cause}", level=level, signature=signature
    )


def _wait_for_change(state: Callable[[], Mapping[Key, IngressState]], key: Key, version: str) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        known = state().get(key)
        if known is None or known.resource_version != version:
            return
        time.sleep(0.02)


# ====================================================================== one-shot read (routes/validate)


def list_update(
    config: KubernetesConfig,
    *,
    namespaces: Sequence[str] | None = None,
    label_selector: str | None = None,
    serviceaccount_dir: str | None = None,
    timing: Timing | None = None,
    connection: Connection | None = None,
) -> ProviderUpdate:
    """LIST everything once (for `routes --kubernetes` / `validate --kubernetes`). Raises InputError."""
    provider = KubernetesProvider(
        config,
        namespaces=namespaces,
        label_selector=label_selector,
        serviceaccount_dir=serviceaccount_dir,
        timing=timing,
        connection=connection,
    )
    api = provider.api()
    cache = Cache()
    for spec in stream_specs(provider.namespaces, provider.label_selector):
        kind = spec.kind
        try:
            try:
                raw_items, _ = api.list_all(
                    kind,
                    spec.namespace,
                    label_selector=spec.label_selector,
                    field_selector=spec.field_selector,
                )
            except ApiError as exc:
                if exc.status != 404 or kind is not ENDPOINT_SLICE:
                    raise
                kind = ENDPOINTS
                raw_items, _ = api.list_all(kind, spec.namespace)
        except ApiError as exc:
            raise InputError(f"kubernetes: {exc}") from None
        except TRANSPORT_ERRORS as exc:
            raise InputError(
                f"kubernetes: {describe_transport_error('list', kind.qualified, api.endpoint, exc)}"
            ) from None
        except StreamBroken as exc:
            raise InputError(f"kubernetes: {exc}") from None
        cache.add_stream(spec.id, kind)
        items = []
        for raw in raw_items:
            obj, found = convert(kind, raw)
            if obj is not None:
                items.append((key_of(raw), obj, found))
        cache.replace(spec.id, items)
    snapshot, diagnostics = cache.snapshot()
    return ProviderUpdate("kubernetes", snapshot, diagnostics)


def list_snapshot(
    config: KubernetesConfig,
    *,
    namespaces: Sequence[str] | None = None,
    label_selector: str | None = None,
    serviceaccount_dir: str | None = None,
    timing: Timing | None = None,
    connection: Connection | None = None,
) -> Snapshot:
    """The Snapshot `list_update` reads (without the loader's diagnostics)."""
    return list_update(
        config,
        namespaces=namespaces,
        label_selector=label_selector,
        serviceaccount_dir=serviceaccount_dir,
        timing=timing,
        connection=connection,
    ).snapshot


# ====================================================================== leader election


def default_identity() -> str:
    """Pod name (the hostname in a pod) plus a random suffix: two processes never share an identity."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """Lease-based leader election (coordination.k8s.io/v1), as client-go does it.

    `is_leader` is true while we hold the lease. `on_started_leading` / `on_stopped_leading` run on the
    event loop; `on_new_leader(identity)` whenever the observed holder changes. `run()` keeps trying
    until cancelled, then releases the lease so a successor takes over at once.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        namespace: str,
        name: str = "ingressctl-leader",
        identity: str | None = None,
        lease_duration: int = 15,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        timing: Timing | None = None,
    ) -> None:
        if not renew_deadline < lease_duration:
            raise ConfigError("leader election: the renew deadline must be shorter than the lease duration")
        t = timing or Timing()
        self.api = KubeApi(
            connection,
            connect_timeout=t.connect_timeout,
            request_timeout=min(t.request_timeout, renew_deadline),
        )
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.is_leader = False
        self.leader = ""
        self._observer = LeaseObserver()
        self._last_renew = 0.0
        self._lock = threading.Lock()  # one API conversation at a time (renew vs. release)
        # Retried every retry_period: a forbidden Lease is logged once, then reminded (kube_problems).
        self._problems = ProblemLog(log, reminder=t.problem_reminder)

    def _try(self) -> bool | None:
        """True: we hold the lease now. False: someone else does. None: could not tell (API trouble)."""
        lease_name = f"{self.namespace}/{self.name}"
        with self._lock:
            try:
                outcome = self._attempt()
            except ApiError as exc:
                if exc.status != 409:
                    message = f"leader election (Lease {lease_name}): {exc}"
                    self._problems.failed("lease", message, level=_level(exc))
                    return None
                outcome = False  # another replica wrote first
            except RECOVERABLE as exc:
                message = describe_transport_error("update", "the leader Lease", self.api.endpoint, exc)
                self._problems.failed("lease", f"leader election: {message}")
                return None
        self._problems.recovered("lease", f"access to the leader Lease {lease_name}")
        return outcome

    def _attempt(self) -> bool:
        """One get-then-claim round; API and transport errors propagate."""
        try:
            lease = self.api.get_lease(self.namespace, self.name)
        except ApiError as exc:
            if exc.status != 404:
                raise
            record = claim(None, self.identity, self.lease_duration, time.time())
            self.api.create_lease(self.namespace, lease_body(self.namespace, self.name, record))
            self._seen(self.identity)
            return True
        record = LeaseRecord.from_lease(lease)
        now = time.monotonic()
        if record.holder and record.holder != self.identity and not self._observer.expired(record, now):
            self._seen(record.holder)
            return False
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        new = claim(record, self.identity, self.lease_duration, time.time())
        self.api.replace_lease(self.namespace, self.name, lease_body(self.namespace, self.name, new, version))
        self._seen(self.identity)
        return True

    def _seen(self, holder: str) -> None:
        if holder != self.leader:
            self.leader = holder
            if holder:
                log.info("kubernetes: the leader is now %s", holder)
            if self.on_new_leader is not None:
                self.on_new_leader(holder)

    def _set_leader(self, leading: bool) -> None:
        if leading == self.is_leader:
            return
        self.is_leader = leading
        if leading:
            log.info(
                "kubernetes: %s became the leader (Lease %s/%s)", self.identity, self.namespace, self.name
            )
            if self.on_started_leading is not None:
                self.on_started_leading()
        else:
            log.warning("kubernetes: %s is no longer the leader", self.identity)
            if self.on_stopped_leading is not None:
                self.on_stopped_leading()

    async def run(self) -> None:
        try:
            while True:
                outcome = await asyncio.to_thread(self._try)
                now = time.monotonic()
                if outcome is True:
                    self._last_renew = now
                    self._set_leader(True)
                elif outcome is False:
                    self._set_leader(False)
                elif self.is_leader and now - self._last_renew > self.renew_deadline:
                    self._set_leader(False)  # could not renew in time: stop acting before the lease runs out
                await asyncio.sleep(self.retry_period * (1 + 0.2 * random.random()))
        finally:
            if self.is_leader:
                await asyncio.shield(self.release())

    async def release(self) -> None:
        """Give the lease up (holder cleared) so another replica can take over immediately."""
        if not self.is_leader:
            return
        await asyncio.to_thread(self._release)
        self._set_leader(False)

    def _release(self) -> None:
        with self._lock:
            try:
                lease = self.api.get_lease(self.namespace, self.name)
                record = LeaseRecord.from_lease(lease)
                if record.holder != self.identity:
                    return
                version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
                body = lease_body(self.namespace, self.name, released(record, time.time()), version)
                self.api.replace_lease(self.namespace, self.name, body)
                log.info("kubernetes: %s released the leader Lease", self.identity)
            except RELEASE_ERRORS as exc:
                log.warning("kubernetes: could not release the leader Lease (it expires by itself): %s", exc)


# ====================================================================== ACME storage in a Secret


class StorageConflict(IngressctlError):
    """The Secret changed between our read and our write (another replica saved first)."""


class SecretStore:
    """Bytes kept in one key of one Secret, written only over the version last read (no lost updates).

    `secret:NAMESPACE/NAME` stores acme.json in Secret NAME, key `acme.json`. Blocking: call it from
    a thread. A Secret holds at most 1 MiB, which is room for a few hundred certificates.
    """

    def __init__(self, connection: Connection, namespace: str, name: str, key: str = "acme.json") -> None:
        self.api = KubeApi(connection)
        self.namespace = namespace
        self.name = name
        self.key = key
        self._version: str | None = None  # None: not read yet; "": read, did not exist

    @classmethod
    def from_spec(cls, spec: str, connection: Connection, key: str = "acme.json") -> SecretStore:
        rest = spec.removeprefix("secret:")
        namespace, sep, name = rest.partition("/")
        if not spec.startswith("secret:") or not sep or not namespace or not name or "/" in name:
            raise ConfigError(
                f"acme storage {spec!r}: expected secret:NAMESPACE/NAME (e.g. secret:ingressctl/acme)"
            )
        return cls(connection, namespace, name, key)

    def describe(self) -> str:
        return f"Secret {self.namespace}/{self.name} (key {self.key})"

    def load_bytes(self) -> bytes | None:
        try:
            secret = self.api.get_secret(self.namespace, self.name)
        except ApiError as exc:
            if exc.status == 404:
                self._version = ""
                return None
            raise
        self._version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        value = (secret.get("data") or {}).get(self.key)
        if value is None:
            return None
        return base64.b64decode(value)

    def save_bytes(self, data: bytes) -> None:
        """Write over what `load_bytes` read; StorageConflict if someone wrote in between."""
        if self._version is None:
            self.load_bytes()
        body: JSON = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "ingressctl"},
            },
            "type": "Opaque",
            "data": {self.key: base64.b64encode(data).decode()},
        }
        try:
            if self._version:
                body["metadata"]["resourceVersion"] = self._version
                saved = self.api.replace_secret(self.namespace, self.name, body)
            else:
                saved = self.api.create_secret(self.namespace, body)
        except ApiError as exc:
            if exc.status == 409:
                self._version = None
                raise StorageConflict(f"{self.describe()} changed since it was read: {exc}") from None
            raise
        self._version = str((saved.get("metadata") or {}).get("resourceVersion") or "")

    def update(self, change: Callable[[bytes | None], bytes], attempts: int = 5) -> bytes:
        """Read, change, write; on a conflict read again and re-apply `change` (it must be pure)."""
        for _ in range(attempts):
            data = change(self.load_bytes())
            try:
                self.save_bytes(data)
                return data
            except StorageConflict:
                continue
        raise StorageConflict(f"{self.describe()}: still conflicting after {attempts} attempts")
