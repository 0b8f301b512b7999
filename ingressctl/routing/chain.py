"""Each route's middleware chain as data: which middlewares, in the order the proxy applies them,
with their parameters parsed once.

The proxy builds its runtime middlewares from these specs (ingressctl.proxy.plan), and `routes`,
`routes --explain`, the API and the dashboard describe the same specs: one compiler, one truth.
A setting that protects a route but cannot be honoured (an unusable allow-list, a broken auth
Secret) becomes a `FailClosed` spec at the place of the middleware it stands for, never nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.gateway.chain import GatewaySpec
from ingressctl.gateway.chain import forwarding_specs as gateway_forwarding_specs
from ingressctl.gateway.chain import redirect_specs as gateway_redirect_specs
from ingressctl.model import BackendProblem, Route
from ingressctl.routing.chain_access import (
    AccessSpec,
    AuthHeadersSpec,
    ForwardAuthSpec,
    auth_specs,
    deny_specs,
    limit_specs,
)
from ingressctl.routing.chain_backend import (
    BackendSpec,
    BodyLimitSpec,
    CircuitBreakerSpec,
    UpstreamPolicySpec,
    backend_chain,
)
from ingressctl.routing.chain_canary import AccessLogOffSpec, CanarySpec, access_log_specs, canary_specs
from ingressctl.routing.chain_client_auth import ClientCertSpec
from ingressctl.routing.chain_client_cert_headers import ClientCertHeadersSpec, client_cert_header_specs
from ingressctl.routing.chain_nginx import CorsSpec, RewriteTargetSpec, cors_of, rewrite_target_of
from ingressctl.routing.chain_rewrites import (
    FORWARDING_SPECS,
    PathRewriteSpec,
    RewriteSpec,
    app_root_spec,
    guard_specs,
    https_redirect_spec,
    modifier_specs,
    redirect_specs,
    request_specs,
)
from ingressctl.routing.chain_spec import ChainSpec, Description


@dataclass(frozen=True, slots=True)
class AllowListSpec(ChainSpec):
    """Refuse (403) a client whose address is outside the source ranges."""

    name: ClassVar[str] = "ip-allow-list"
    source_ranges: tuple[str, ...]
    # whitelist-x-forwarded-for: judge the client a trusted proxy forwarded for, not the peer.
    forwarded_for: bool = False

    def describe(self) -> Description:
        who = "the forwarded client address" if self.forwarded_for else "the client address"
        return {
            "name": self.name,
            "effect": f"403 unless {who} is in " + ", ".join(self.source_ranges),
            "source_ranges": list(self.source_ranges),
            "forwarded_for": self.forwarded_for,
        }


@dataclass(frozen=True, slots=True)
class FailClosedSpec(ChainSpec):
    """Refuse every request: the protecting setting `guards` cannot be honoured."""

    name: ClassVar[str] = "fail-closed"
    guards: str  # the name of the middleware this stands for
    status: int
    text: str  # the answer's body
    detail: str  # why, for the log

    @property
    def label(self) -> str:
        return f"{self.name}({self.guards})"

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"{self.status} for every request: {self.guards} cannot be honoured ({self.detail})",
            "guards": self.guards,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class RedirectSpec(ChainSpec):
    """Send the client to another entrypoint's scheme and port, keeping path and query."""

    name: ClassVar[str] = "redirect"
    entrypoint: str
    permanent: bool

    @property
    def label(self) -> str:
        return f"{self.name}->{self.entrypoint}"

    def describe(self) -> Description:
        status = "301/308" if self.permanent else "302"
        return {
            "name": self.name,
            "effect": f"{status} to entrypoint {self.entrypoint} (not on {self.entrypoint} itself)",
            "entrypoint": self.entrypoint,
            "permanent": self.permanent,
        }


@dataclass(frozen=True, slots=True)
class BasicAuthSpec(ChainSpec):
    """Ask for a user and password (401) checked against htpasswd hashes."""

    name: ClassVar[str] = "basic-auth"
    realm: str
    users: tuple[tuple[str, str], ...]  # (user, hash): hashes never leave the process
    source: str

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"401 unless the credentials match one of {len(self.users)} user(s)",
            "realm": self.realm,
            "users": len(self.users),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class StripPrefixSpec(ChainSpec):
    """Remove the matched path prefix before forwarding."""

    name: ClassVar[str] = "strip-prefix"
    prefix: str  # no trailing slash

    @property
    def label(self) -> str:
        return f"{self.name}({self.prefix})"

    def describe(self) -> Description:
        return {"name": self.name, "effect": f"removes {self.prefix} from the path", "prefix": self.prefix}

    def apply(self, path: str) -> str | None:
        """`path` without the prefix (it starts with "/"), or None when it does not start with it."""
        if not path.startswith(self.prefix):
            return None
        rest = path[len(self.prefix) :]
        if not rest:
            return "/"
        return rest if rest[0] == "/" else "/" + rest


MiddlewareSpec = (
    AllowListSpec
    | FailClosedSpec
    | RedirectSpec
    | BasicAuthSpec
    | StripPrefixSpec
    | ClientCertSpec
    | AccessSpec
    | RewriteTargetSpec
    | CorsSpec
    | BackendSpec
    | RewriteSpec
    | ClientCertHeadersSpec
    | GatewaySpec
    | CanarySpec
    | AccessLogOffSpec
)


def route_chain(route: Route) -> tuple[MiddlewareSpec, ...]:
    """The route's middlewares in the order the proxy applies them.

    Deny- and allow-list first (a refused client learns nothing else about the route), then the
    stages of protections that cannot be honoured, rate and in-flight limits, allowed hosts and the
    response headers (answers further down carry them too), the redirects, then authentication (an
    entrypoint's own basic auth runs just before the route's: see `auth_position`), then request
    headers and path rewriting, then the backend side (body limit, circuit breaker, upstream policy:
    routing.chain_backend).
    """
    mw = route.middlewares
    problem = route.backend.problem
    access = mw.access
    chain: list[MiddlewareSpec] = [*deny_specs(access)]
    if mw.allow_source_ranges:
        chain.append(AllowListSpec(mw.allow_source_ranges, access.allow_forwarded_for))
    if problem is BackendProblem.ACCESS_RULE_INVALID:
        chain.append(FailClosedSpec("ip-allow-list", 403, "Forbidden", route.backend.problem_detail))
    if mw.client_auth is not None:
        # Right after the allow-list: like ingress-nginx, the certificate is checked before anything else.
        chain.append(ClientCertSpec(mw.client_auth))
    for guards, detail in access.failures:
        chain.append(
            FailClosedSpec(guards, 503, f"Service Unavailable: the route's {guards} is misconfigured", detail)
        )
    chain.extend(limit_specs(access))
    chain.extend(guard_specs(route))
    https = https_redirect_spec(route)
    if https is not None:
        chain.append(https)
    app_root = app_root_spec(route)
    if app_root is not None:
        chain.append(app_root)  # on `/`, it replaces the other redirects (as in Traefik)
    else:
        if mw.redirect is not None:
            chain.append(RedirectSpec(mw.redirect.entrypoint, mw.redirect.permanent))
        chain.extend(redirect_specs(route))
        chain.extend(gateway_redirect_specs(route))
    cors = cors_of(route)
    if cors is not None:
        # Before authentication: browsers send preflight requests without credentials.
        chain.append(cors)
    if problem is BackendProblem.AUTH_SECRET_INVALID:
        # 503, not 401 (as ingress-nginx): no credentials can pass, so a challenge would only
        # make browsers prompt for a password that cannot work.
        chain.append(
            FailClosedSpec(
                "basic-auth",
                503,
                "Service Unavailable: the route's basic auth is misconfigured",
                route.backend.problem_detail,
            )
        )
    if mw.basic_auth is not None:
        auth = mw.basic_auth
        chain.append(BasicAuthSpec(auth.realm, auth.users, auth.source))
    chain.extend(auth_specs(access))
    chain.extend(request_specs(route))
    prefix = strip_prefix_of(route)
    if prefix is not None:
        chain.append(StripPrefixSpec(prefix))
    rewrite = rewrite_target_of(route)
    if rewrite is not None:
        chain.append(rewrite)
    chain.extend(modifier_specs(route))
    chain.extend(gateway_forwarding_specs(route))  # HTTPRoute mirrors and the API's 500s
    policy = mw.backend_policy
    if policy is not None and policy.invalid:
        chain.append(FailClosedSpec("upstream-policy", 503, "Service Unavailable", policy.invalid))
    chain.extend(backend_chain(policy))
    # Last: the certificate headers are the proxy's word, after any auth answer copied headers.
    chain.extend(client_cert_header_specs(route))
    chain.extend(canary_specs(route))  # picks the backend: applied when the proxy takes the route
    chain.extend(access_log_specs(route))  # applied where the access log is written
    return tuple(chain)


_AFTER_ENTRYPOINT_AUTH = (
    BasicAuthSpec,
    ForwardAuthSpec,
    AuthHeadersSpec,
    StripPrefixSpec,
    RewriteTargetSpec,
    BodyLimitSpec,
    CircuitBreakerSpec,
    UpstreamPolicySpec,
    CanarySpec,
    AccessLogOffSpec,
    *FORWARDING_SPECS,
)


def auth_position(chain: tuple[MiddlewareSpec, ...]) -> int:
    """Where an entrypoint's basic auth runs in this chain: after every check that answers without
    asking for credentials (allow-list, redirect, fail-closed), before the route's own auth."""
    for index, spec in enumerate(chain):
        if isinstance(spec, _AFTER_ENTRYPOINT_AUTH):
            return index
    return len(chain)


def strip_prefix_of(route: Route) -> str | None:
    """The prefix removed before forwarding (PathPrefixStrip); None for none or "/"."""
    if not route.strip_prefix:
        return None
    value = route.path
    if value in ("", "/"):
        return None
    return value.rstrip("/")


def upstream_path(route: Route, path: str) -> str:
    """The path the backend gets for a request of canonical `path` that the chain lets through:
    the same steps the proxy takes (strip-prefix, path rewrites), for `routes --explain`."""
    for spec in route_chain(route):
        if isinstance(spec, StripPrefixSpec | PathRewriteSpec):
            path = spec.apply(path) or path
        elif isinstance(spec, RewriteTargetSpec):
            path = spec.rewrite(path)
    return path


def chain_labels(route: Route) -> list[str]:
    """Short names of the route's chain, in order ("ip-allow-list", "redirect->websecure", ...)."""
    return [spec.label for spec in route_chain(route)]


def chain_descriptions(route: Route) -> list[Description]:
    """The route's chain, in order, each middleware with its effect and parameters."""
    return [spec.describe() for spec in route_chain(route)]
