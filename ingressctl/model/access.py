"""Access control and traffic limits of a route, as the compiler resolved them from annotations.

One implementation per behaviour, whatever spelling asked for it: Traefik 1.7
(`ingress.kubernetes.io/auth-url`, `traefik.ingress.kubernetes.io/rate-limit`), Traefik v2/v3 and
ingress-nginx (`nginx.ingress.kubernetes.io/auth-url`, `limit-rps`, ...) all land here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

# AccessControls lives apart: every route holds one (empty for most), and building it must not
# build this family's other dataclasses (validate start-up, issue 18).
from ingressctl.model.access_controls import AccessControls as AccessControls

if TYPE_CHECKING:
    from ingressctl.model.upstream_protocol import BackendTLS


class SourceKind(str, Enum):
    """What one rate-limit or in-flight bucket is kept for (Traefik's `extractorFunc`)."""

    CLIENT_IP = "client.ip"
    HOST = "request.host"
    HEADER = "request.header"


@dataclass(frozen=True, slots=True)
class SourceKey:
    kind: SourceKind = SourceKind.CLIENT_IP
    header: str = ""  # for request.header: the header's name

    @property
    def label(self) -> str:
        return f"{self.kind.value}.{self.header}" if self.kind is SourceKind.HEADER else self.kind.value


@dataclass(frozen=True, slots=True)
class RateSet:
    """`average` requests per `period` seconds, with bursts of up to `burst` requests."""

    name: str
    period: float
    average: int
    burst: int

    @property
    def per_second(self) -> float:
        return self.average / self.period


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Token buckets per source; a request must find a token in every rate set."""

    source: SourceKey
    rates: tuple[RateSet, ...]
    status: int  # 429 (Traefik) or 503 (ingress-nginx's default limit-req-status-code)
    exempt: tuple[str, ...] = ()  # CIDRs never limited (limit-whitelist)
    spelling: str = ""  # the annotation that asked for it


@dataclass(frozen=True, slots=True)
class InFlightLimit:
    """At most `amount` requests in progress per source (max-conn-amount, limit-connections)."""

    source: SourceKey
    amount: int
    status: int
    exempt: tuple[str, ...] = ()
    spelling: str = ""
    # Counted across every route of this ("Service ns/name"); "" for one count per route.
    shared_by: str = ""


class AuthStyle(str, Enum):
    """Whose semantics a forward auth follows for non-2xx answers (see ForwardAuth)."""

    TRAEFIK = "traefik"  # any non-2xx answer of the auth service goes to the client as it is
    NGINX = "nginx"  # 401 (or a redirect to auth-signin) and 403 pass; other answers are 500


@dataclass(frozen=True, slots=True)
class ForwardAuth:
    """Ask an HTTP service whether the request may pass; 2xx lets it through."""

    url: str
    style: AuthStyle
    method: str = "GET"
    response_headers: tuple[str, ...] = ()  # copied from the auth answer onto the request
    trust_forward_headers: bool = False  # pass the client's X-Forwarded-* on (Traefik trustForwardHeader)
    signin: str = ""  # ingress-nginx auth-signin: where a 401 sends the browser
    signin_param: str = "rd"
    request_redirect: str = ""  # ingress-nginx auth-request-redirect (X-Auth-Request-Redirect)
    # Traefik 1.7 auth-tls-secret / auth-tls-insecure: the client certificate the proxy presents to
    # an https auth service, and whether that service's certificate is verified.
    tls: BackendTLS | None = None


# nginx variables ingress-nginx users write in auth-url and auth-signin, expanded per request.
NGINX_URL_VARIABLES = frozenset(
    {
        "host",
        "http_host",
        "best_http_host",
        "scheme",
        "pass_access_scheme",
        "request_uri",
        "escaped_request_uri",
        "uri",
        "args",
        "remote_addr",
    }
)
