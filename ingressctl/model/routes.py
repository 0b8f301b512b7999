"""What the compiler produces: routes with everything the proxy needs resolved in advance.

The proxy does no lookups per request beyond RoutingTable.match(): backends carry their
upstream addresses, middlewares carry parsed credentials and networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ingressctl.model.access_controls import AccessControls
from ingressctl.model.location import Location
from ingressctl.model.objects import ObjectRef, PathType
from ingressctl.model.regexpaths import RegexPath

if TYPE_CHECKING:
    # Each family loads with the first route that carries it (HTTPRoute filters, annotations):
    # validating a plain Ingress never builds their dataclasses (start-up time, issue 18).
    from ingressctl.model.backend_policy import BackendPolicy
    from ingressctl.model.canary import CanaryRouting
    from ingressctl.model.client_auth import ClientAuth
    from ingressctl.model.client_cert_headers import ClientCertHeaders
    from ingressctl.model.cors import CorsPolicy
    from ingressctl.model.gateway_routes import GatewayFilters, GatewayMatch
    from ingressctl.model.rewrites import Rewrites
    from ingressctl.model.upstream_protocol import BackendTLS


class HostKind(str, Enum):
    EXACT = "exact"
    WILDCARD = "wildcard"  # "*.example.com": exactly one extra leftmost label
    ANY = "any"  # rule without a host


class BackendProblem(str, Enum):
    """Why a route that exists cannot be served (the proxy answers 503)."""

    SERVICE_NOT_FOUND = "service-not-found"
    PORT_NOT_FOUND = "port-not-found"
    NO_ENDPOINTS = "no-endpoints"  # no EndpointSlice/Endpoints at all
    NO_READY_ENDPOINTS = "no-ready-endpoints"
    EXTERNAL_NAME_NOT_ALLOWED = "external-name-not-allowed"
    RESOURCE_BACKEND = "resource-backend"  # `resource:` backends are not proxied
    AUTH_SECRET_INVALID = "auth-secret-invalid"  # fail closed: every request refused
    ACCESS_RULE_INVALID = "access-rule-invalid"  # unusable source allow-list: fail closed too
    # An annotation asks for a protection ingressctl lacks, or holds control characters: fail closed.
    ANNOTATION_REFUSED = "annotation-refused"


@dataclass(frozen=True, slots=True)
class Upstream:
    """One address a route's requests may go to, with its weight."""

    host: str  # IP address, or a DNS name for ExternalName services
    port: int
    weight: int = 1
    # True when used only because no endpoint is ready (serving + terminating fallback).
    fallback: bool = False

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RouteBackend:
    """The Service port a route sends requests to, resolved to upstream addresses."""

    namespace: str
    service: str
    port: str  # as written in the Ingress: number or name
    upstreams: tuple[Upstream, ...] = ()
    scheme: str = "http"  # one of model.upstream_protocol.BACKEND_SCHEMES
    problem: BackendProblem | None = None
    problem_detail: str = ""
    # traefik.ingress.kubernetes.io/service-weights: (service, percent) of each service whose
    # endpoints are merged into `upstreams`; empty for the usual single-service backend.
    split: tuple[tuple[str, float], ...] = ()
    # TLS settings of the https and h2 schemes (None for http and h2c).
    tls: BackendTLS | None = None

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the request to another entrypoint's scheme/port, keeping path and query."""

    entrypoint: str  # e.g. "https"
    permanent: bool = False  # False: 302; True: 301 (GET/HEAD) or 308 (others)


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP basic authentication: realm and htpasswd users."""

    realm: str
    # (user, hash) pairs in htpasswd form; hashes are apr1/bcrypt/{SHA}; verified by ingressctl.security.
    users: tuple[tuple[str, str], ...] = ()
    source: str = ""  # "Secret ns/name" or "entrypoint http"

    def __repr__(self) -> str:
        return f"BasicAuth(realm={self.realm!r}, users={[u for u, _ in self.users]}, source={self.source!r})"


@dataclass(frozen=True, slots=True)
class RouteMiddlewares:
    """What happens to a request on a route before its backend sees it; the default does nothing."""

    redirect: Redirect | None = None
    basic_auth: BasicAuth | None = None
    # CIDR strings (already validated); empty means everyone is allowed.
    allow_source_ranges: tuple[str, ...] = ()
    # ingress-nginx auth-tls-*: a client certificate of these CAs (model/client_auth.py).
    client_auth: ClientAuth | None = None
    # Forward auth, deny-lists, rate and in-flight limits (routing/annotations_access.py).
    access: AccessControls = field(default_factory=AccessControls)
    cors: CorsPolicy | None = None  # ingress-nginx enable-cors (model/cors.py)
    # Sticky sessions, balancing, circuit breaker, body limits, timeouts, retries (None: defaults).
    backend_policy: BackendPolicy | None = None
    # Paths, redirects, headers and the Host (ingressctl.model.rewrites).
    rewrites: Rewrites | None = None
    # The client certificate passed on in headers (routing/annotations_client_cert_headers.py).
    client_cert_headers: ClientCertHeaders | None = None
    # HTTPRoute filters without an annotation twin: redirects, mirrors, 500s (ingressctl.gateway).
    gateway: GatewayFilters | None = None
    # ingress-nginx canary-by-header / -by-cookie: requests the canary's Service serves (model/canary.py).
    canary: CanaryRouting | None = None
    # ingress-nginx enable-access-log: false writes no access-log line for the route.
    access_log: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.redirect is not None:
            out.append(f"redirect->{self.redirect.entrypoint}")
        if self.basic_auth is not None:
            out.append("basic-auth")
        if self.allow_source_ranges:
            out.append("ip-allow-list")
        if self.client_auth is not None:
            out.append("client-certificate")
        return tuple(out)


class TLSSource(str, Enum):
    SECRET = "secret"  # spec.tls[].secretName
    ACME = "acme"  # no Secret: ACME when enabled
    DEFAULT = "default"  # no Secret and no ACME: the default certificate


@dataclass(frozen=True, slots=True)
class TLSCertificate:
    """A certificate from an Ingress TLS Secret, with the hosts the Ingress claims for it."""

    hosts: tuple[str, ...]
    secret: ObjectRef
    cert_pem: bytes = field(repr=False, default=b"")
    key_pem: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class Route:
    """One (host, path, pathType) → backend, with its middlewares and origin.

    id is stable across compiles of the same input ("default/web#0.1" style) so that logs,
    metrics and the dashboard can follow a route through reloads.
    """

    id: str
    host: str | None  # lower-case; None for "any host"
    host_kind: HostKind
    path: str  # as declared ("" for defaultBackend)
    path_type: PathType
    backend: RouteBackend
    source: ObjectRef
    middlewares: RouteMiddlewares = field(default_factory=RouteMiddlewares)
    # Entrypoint names this route is served on; () means every default entrypoint.
    entrypoints: tuple[str, ...] = ()
    tls: TLSSource | None = None  # None: the host has no TLS section
    priority: int = 0  # router.priority / traefik.frontend.priority; higher wins before length
    location: Location | None = None
    is_default_backend: bool = False
    # traefik.frontend.rule.type PathPrefixStrip/PathStrip: the matched path prefix is removed
    # before the request goes upstream.
    strip_prefix: bool = False
    # traefik.ingress.kubernetes.io/router.tls=true: served only on TLS entrypoints.
    tls_only: bool = False
    # traefik.ingress.kubernetes.io/router.tls.certresolver, recorded for the ACME manager.
    cert_resolver: str = ""
    # ingress-nginx use-regex / rewrite-target: the path is a regular expression (model.regexpaths).
    regex: RegexPath | None = None
    # Routes of HTTPRoutes: the match's conditions and precedence (ingressctl.gateway).
    gateway: GatewayMatch | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """The answer to "which route serves this request", and why."""

    route: Route
    reason: str
    # Other routes that would also have matched, in precedence order after the winner.
    shadowed: tuple[Route, ...] = ()
