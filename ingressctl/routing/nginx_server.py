"""ingress-nginx's server-level annotations: service-upstream, server-alias and enable-access-log.

From its annotations page:
- "Service Upstream": `service-upstream: "true"` sends requests to the Service's cluster IP and port
  instead of its endpoints (kube-proxy balances). ingress-nginx falls back to the endpoints when the
  Service has no cluster IP (headless, ExternalName); so does ingressctl, with a warning.
- "Server Alias": `server-alias: "<alias 1>,<alias 2>"` serves more host names like the Ingress's
  hosts. "A server-alias name cannot conflict with the hostname of an existing server. If it does,
  the server-alias annotation will be ignored."
- "Enable Access Log": `enable-access-log: "false"` writes no access-log line for the routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    Ingress,
    RouteBackend,
    Service,
    ServicePort,
    Severity,
    Upstream,
)
from ingressctl.routing import codes
from ingressctl.routing.hosts import validate_host
from ingressctl.routing.report import annotation_location, finding

NGINX = "nginx.ingress.kubernetes.io/"
SERVICE_UPSTREAM = NGINX + "service-upstream"
SERVER_ALIAS = NGINX + "server-alias"
ENABLE_ACCESS_LOG = NGINX + "enable-access-log"

KNOWN: dict[str, str] = {
    SERVICE_UPSTREAM: "true: requests go to the Service's cluster IP and port instead of its endpoints "
    "(the endpoints when it has none, with a warning), as ingress-nginx.",
    SERVER_ALIAS: "Comma-separated host names served like the Ingress's hosts (every route of those "
    "hosts); an alias a rule already names is ignored, with a warning (as ingress-nginx).",
    ENABLE_ACCESS_LOG: "false: no access-log line for the Ingress's routes.",
}

_TRUE = frozenset({"true", "1", "t"})
_FALSE = frozenset({"false", "0", "f"})
_NO_CLUSTER_IP = frozenset({"", "None"})
# With service-upstream the endpoints do not matter: kube-proxy finds them.
_ENDPOINT_PROBLEMS = (BackendProblem.NO_ENDPOINTS, BackendProblem.NO_READY_ENDPOINTS)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """ingress-nginx's service-upstream, server-alias and enable-access-log of one Ingress."""

    service_upstream: bool = False
    aliases: tuple[str, ...] = ()
    access_log: bool = True


DEFAULT = ServerOptions()


def parse_server_options(ingress: Ingress) -> tuple[ServerOptions, list[Diagnostic]]:
    annotations = ingress.meta.annotations
    if (
        SERVICE_UPSTREAM not in annotations
        and SERVER_ALIAS not in annotations
        and ENABLE_ACCESS_LOG not in annotations
    ):
        return DEFAULT, []
    found: list[Diagnostic] = []
    service_upstream = _boolean(ingress, SERVICE_UPSTREAM, False, found)
    access_log = _boolean(ingress, ENABLE_ACCESS_LOG, True, found)
    aliases: list[str] = []
    for raw in annotations.get(SERVER_ALIAS, "").replace("\n", ",").split(","):
        alias = raw.strip().lower()
        if not alias:
            continue
        problem = validate_host(alias)
        if problem:
            found.append(
                _warning(ingress, SERVER_ALIAS, f"{problem}; this alias is ignored", "Write host names.")
            )
        elif alias not in aliases:
            aliases.append(alias)
    return ServerOptions(service_upstream, tuple(aliases), access_log), found


def cluster_ip_backend(
    backend: RouteBackend, service: Service | None, port: ServicePort | None
) -> tuple[RouteBackend, str]:
    """service-upstream: the backend with the Service's cluster IP and port as its one upstream, or
    the backend unchanged and why (no cluster IP; a Service or port that does not resolve keeps its
    own finding and 503)."""
    if service is None or port is None or backend.problem not in (None, *_ENDPOINT_PROBLEMS):
        return backend, ""
    if service.cluster_ip in _NO_CLUSTER_IP or service.type == "ExternalName":
        return backend, f"Service {service.meta.namespace}/{service.meta.name} has no cluster IP"
    return (
        RouteBackend(
            backend.namespace,
            backend.service,
            backend.port,
            upstreams=(Upstream(service.cluster_ip, port.port),),
            scheme=backend.scheme,
            tls=backend.tls,
        ),
        "",
    )


def no_cluster_ip_finding(ingress: Ingress, why: str) -> Diagnostic:
    return _warning(
        ingress,
        SERVICE_UPSTREAM,
        f"{why}; its endpoints are used instead (as ingress-nginx)",
        "Give the Service a cluster IP, or remove service-upstream.",
    )


def _boolean(ingress: Ingress, key: str, default: bool, found: list[Diagnostic]) -> bool:
    raw = ingress.meta.annotations.get(key)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    found.append(
        _warning(
            ingress,
            key,
            f"{raw!r} is not true or false; {str(default).lower()} is used",
            'Write "true" or "false".',
        )
    )
    return default


def _warning(ingress: Ingress, key: str, message: str, hint: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {key}: {message}",
        hint,
        annotation_location(ingress, key),
    )
