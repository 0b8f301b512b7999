"""Everything the request path needs, computed once per routing table instead of once per request.

A `TablePlan` wraps one RoutingTable: per-entrypoint tables (so a route restricted to other
entrypoints never shadows one that serves this entrypoint), and per route its balancer and
its middleware chain (built once, from ingressctl.routing.chain's specs). The server swaps one
TablePlan reference on reload; a request keeps the plan it started with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiohttp.web_request import BaseRequest

from ingressctl.gateway.chain import BackendErrorSpec, GatewayRedirectSpec, MirrorSpec
from ingressctl.model import BackendProblem, Match, Route, RouteBackend, TLSCertificate
from ingressctl.proxy.balancer import SmoothWeightedRoundRobin
from ingressctl.proxy.canary import CanaryChoice
from ingressctl.proxy.exchange import EntrypointInfo, Middleware, Stage, stages_of
from ingressctl.proxy.middlewares.allow_list import AllowList
from ingressctl.proxy.middlewares.auth_headers import AuthHeaders
from ingressctl.proxy.middlewares.basic_auth import Authenticator
from ingressctl.proxy.middlewares.body_limit import BodyLimit
from ingressctl.proxy.middlewares.circuit_breaker import Breaker, CircuitBreakerMiddleware
from ingressctl.proxy.middlewares.cors import Cors
from ingressctl.proxy.middlewares.deny_list import DenyList
from ingressctl.proxy.middlewares.fail_closed import FailClosed
from ingressctl.proxy.middlewares.forward_auth import ForwardAuthenticator
from ingressctl.proxy.middlewares.in_flight import InFlight
from ingressctl.proxy.middlewares.rate_limit import RateLimiter
from ingressctl.proxy.middlewares.redirect import Redirect
from ingressctl.proxy.middlewares.rewrite_target import RewriteTarget
from ingressctl.proxy.middlewares.strip_prefix import StripPrefix
from ingressctl.proxy.plan_gateway import gateway_middleware
from ingressctl.proxy.plan_rewrites import rewrite_middleware
from ingressctl.proxy.selection import BackendRuntime
from ingressctl.routing.chain import (
    AllowListSpec,
    BasicAuthSpec,
    FailClosedSpec,
    MiddlewareSpec,
    RedirectSpec,
    StripPrefixSpec,
    auth_position,
    route_chain,
)
from ingressctl.routing.chain_access import (
    AuthHeadersSpec,
    DenyListSpec,
    ForwardAuthSpec,
    InFlightSpec,
    RateLimitSpec,
)
from ingressctl.routing.chain_backend import BodyLimitSpec, CircuitBreakerSpec, UpstreamPolicySpec
from ingressctl.routing.chain_canary import AccessLogOffSpec, CanarySpec
from ingressctl.routing.chain_client_auth import ClientCertSpec
from ingressctl.routing.chain_client_cert_headers import ClientCertHeadersSpec
from ingressctl.routing.chain_nginx import CorsSpec, RewriteTargetSpec

__all__ = ["Authenticator", "EntrypointInfo", "RoutePlan", "Table", "TableFactory", "TablePlan"]


class Table(Protocol):
    """The parts of ingressctl.routing.RoutingTable the proxy uses."""

    @property
    def routes(self) -> Sequence[Route]: ...

    @property
    def certificates(self) -> Sequence[TLSCertificate]: ...

    @property
    def default_route(self) -> Route | None: ...

    def match(self, host: str, path: str) -> Match | None: ...

    def match_request(
        self, host: str, path: str, method: str, headers: Mapping[str, str], query: str
    ) -> Match | None: ...


class TableFactory(Protocol):
    """Builds a Table; `previous` is a table this factory built before (for reuse).

    `previous` is typed Any because a factory's parameter is its own table type (RoutingTable);
    a Protocol parameter of type `Table` would reject it (parameters are contravariant), and the
    proxy must not import the routing package to name it.
    """

    def __call__(
        self,
        routes: Sequence[Route],
        certificates: Sequence[TLSCertificate],
        default_route: Route | None,
        *,
        previous: Any = None,
    ) -> Table: ...


_NOT_STAGES = (UpstreamPolicySpec, CanarySpec, AccessLogOffSpec)


class RoutePlan:
    """One route, prepared: its balancer and its middleware chain, built once from the route."""

    __slots__ = (
        "auth_at",
        "auth_stages",
        "backend_label",
        "balancer",
        "breaker",
        "canary_choice",
        "canary_plan",
        "chain",
        "problem",
        "problem_detail",
        "route",
        "route_id",
        "scheme",
        "specs",
        "stages",
        "tls",
        "upstream_policy",
    )

    def __init__(self, route: Route) -> None:
        self.route = route
        self.route_id = route.id
        backend = route.backend
        self.backend_label = backend.label
        self.scheme = backend.scheme
        self.tls = backend.tls
        self.balancer = SmoothWeightedRoundRobin(backend.upstreams)
        self.problem: BackendProblem | None = backend.problem
        self.problem_detail = backend.problem_detail
        if self.problem is None and not len(self.balancer):
            self.problem = BackendProblem.NO_READY_ENDPOINTS
            self.problem_detail = self.problem_detail or "no usable endpoint"
        self.specs = route_chain(route)
        # The upstream policy is applied by the balancer and the forwarder, the canary when the route
        # is taken (for_request), the access log by the handler: none is a stage.
        self.chain: tuple[Middleware, ...] = tuple(
            _middleware(spec) for spec in self.specs if not isinstance(spec, _NOT_STAGES)
        )
        self.stages = stages_of(self.chain)
        # id(entrypoint auth) -> (it, the stages with it): see stages_on
        self.auth_stages: dict[int, tuple[Middleware, tuple[Stage, ...]]] = {}
        policy = route.middlewares.backend_policy
        self.upstream_policy = (
            BackendRuntime(policy, self.balancer, backend.label)
            if policy is not None and not policy.invalid
            else None
        )
        self.breaker: Breaker | None = next(
            (m.breaker for m in self.chain if isinstance(m, CircuitBreakerMiddleware)), None
        )
        # Where an entrypoint's own basic auth joins this chain (see routing.chain.auth_position).
        self.auth_at = auth_position(self.specs)
        canary = route.middlewares.canary
        self.canary_choice: CanaryChoice | None = None
        self.canary_plan: RoutePlan | None = None
        if canary is not None:
            plan = self._with_backend(canary.backend)
            self.canary_choice, self.canary_plan = CanaryChoice(canary.rules), plan

    def _with_backend(self, backend: RouteBackend) -> RoutePlan:
        """This route served by another backend (its canary): the same chain, so limits, breaker and
        auth are the route's, with the backend's own balancer."""
        variant = object.__new__(RoutePlan)
        for name in RoutePlan.__slots__:
            setattr(variant, name, getattr(self, name))
        variant.backend_label = backend.label
        variant.scheme = backend.scheme
        variant.tls = backend.tls
        variant.balancer = SmoothWeightedRoundRobin(backend.upstreams)
        variant.problem, variant.problem_detail = backend.problem, backend.problem_detail
        if variant.problem is None and not len(variant.balancer):
            variant.problem = BackendProblem.NO_READY_ENDPOINTS
            variant.problem_detail = variant.problem_detail or "no usable endpoint"
        policy = self.route.middlewares.backend_policy
        variant.upstream_policy = (
            BackendRuntime(policy, variant.balancer, backend.label)
            if policy is not None and not policy.invalid
            else None
        )
        variant.canary_choice = variant.canary_plan = None
        return variant

    def for_request(self, request: BaseRequest) -> RoutePlan:
        """The plan that serves `request`: this one, or its canary's when the canary rules say so."""
        choice = self.canary_choice
        if choice is None or self.canary_plan is None or not choice.to_canary(request):
            return self
        return self.canary_plan

    def chain_on(self, entrypoint_auth: Middleware | None) -> tuple[Middleware, ...]:
        """The chain as it runs on an entrypoint with (or without) basic auth of its own."""
        if entrypoint_auth is None:
            return self.chain
        at = self.auth_at
        return (*self.chain[:at], entrypoint_auth, *self.chain[at:])

    def stages_on(self, entrypoint_auth: Middleware | None) -> tuple[Stage, ...]:
        """`chain_on` as the handler runs it (ingressctl.proxy.exchange.stages_of), built once
        per entrypoint auth."""
        if entrypoint_auth is None:
            return self.stages
        known = self.auth_stages.get(id(entrypoint_auth))
        if known is not None and known[0] is entrypoint_auth:
            return known[1]
        stages = stages_of(self.chain_on(entrypoint_auth))
        self.auth_stages[id(entrypoint_auth)] = (entrypoint_auth, stages)
        return stages


def _middleware(spec: MiddlewareSpec) -> Middleware:
    if isinstance(spec, AllowListSpec):
        return AllowList(spec)
    if isinstance(spec, FailClosedSpec):
        return FailClosed(spec)
    if isinstance(spec, RedirectSpec):
        return Redirect(spec)
    if isinstance(spec, BasicAuthSpec):
        return Authenticator.from_spec(spec)
    if isinstance(spec, ClientCertSpec):
        # Imported here: these two read certificates with cryptography, whose native library costs
        # the serve process ~9 MB resident; only routes that ask for client certificates need it.
        from ingressctl.proxy.middlewares.client_certificate import ClientCertificate

        return ClientCertificate(spec)
    if isinstance(spec, DenyListSpec):
        return DenyList(spec)
    if isinstance(spec, RateLimitSpec):
        return RateLimiter(spec)
    if isinstance(spec, InFlightSpec):
        return InFlight(spec)
    if isinstance(spec, ForwardAuthSpec):
        return ForwardAuthenticator(spec)
    if isinstance(spec, AuthHeadersSpec):
        return AuthHeaders(spec)
    if isinstance(spec, RewriteTargetSpec):
        return RewriteTarget(spec)
    if isinstance(spec, CorsSpec):
        return Cors(spec)
    if isinstance(spec, BodyLimitSpec):
        return BodyLimit(spec)
    if isinstance(spec, CircuitBreakerSpec):
        return CircuitBreakerMiddleware(spec)
    assert not isinstance(spec, _NOT_STAGES)
    if isinstance(spec, ClientCertHeadersSpec):
        from ingressctl.proxy.middlewares.client_cert_headers import ClientCertHeaders

        return ClientCertHeaders(spec)
    if isinstance(spec, StripPrefixSpec):
        return StripPrefix(spec)
    if isinstance(spec, GatewayRedirectSpec | MirrorSpec | BackendErrorSpec):
        return gateway_middleware(spec)
    return rewrite_middleware(spec)


class TablePlan:
    """One routing table, prepared for the request path."""

    __slots__ = ("_by_entrypoint", "entrypoints", "routes", "table")

    def __init__(
        self,
        table: Table,
        entrypoints: Iterable[EntrypointInfo],
        default_entrypoints: Sequence[str],
        make_table: TableFactory,
        previous: TablePlan | None = None,
    ) -> None:
        """`previous`: the plan being replaced; a route that is the very same Route object keeps its
        RoutePlan (balancer position, middleware chain), and an entrypoint table
        is built from the previous one (see RoutingTable's `previous`)."""
        self.table = table
        self.entrypoints: Mapping[str, EntrypointInfo] = {e.name: e for e in entrypoints}
        all_routes = list(table.routes)
        default_route = table.default_route
        if default_route is not None and all(r is not default_route for r in all_routes):
            all_routes.append(default_route)
        old_routes = previous.routes if previous is not None else {}
        self.routes: dict[str, RoutePlan] = {}
        for route in all_routes:
            old = old_routes.get(route.id)
            self.routes[route.id] = old if old is not None and old.route is route else RoutePlan(route)
        defaults = tuple(default_entrypoints) or tuple(self.entrypoints)
        self._by_entrypoint: dict[str, Table] = {}
        for name in self.entrypoints:
            served = [r for r in table.routes if name in (r.entrypoints or defaults)]
            dflt = (
                default_route
                if default_route is not None and name in (default_route.entrypoints or defaults)
                else None
            )
            if len(served) == len(table.routes) and dflt is default_route:
                self._by_entrypoint[name] = table
            else:
                old_table = previous._by_entrypoint.get(name) if previous is not None else None
                self._by_entrypoint[name] = make_table(served, table.certificates, dflt, previous=old_table)

    def table_for(self, entrypoint: str) -> Table:
        return self._by_entrypoint.get(entrypoint, self.table)
