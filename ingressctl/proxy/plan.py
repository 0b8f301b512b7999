"""Everything the request path needs, computed once per routing table instead of once per request.

A `TablePlan` wraps one RoutingTable: per-entrypoint tables (so a route restricted to other
entrypoints never shadows one that serves this entrypoint), and per route its balancer, parsed
allow-list, authenticator and strip-prefix. The server swaps one TablePlan reference on reload;
a request keeps the plan it started with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ingressctl.model import BackendProblem, BasicAuth, Match, Redirect, Route, TLSCertificate
from ingressctl.proxy.balancer import SmoothWeightedRoundRobin
from ingressctl.proxy.headers import SourceRanges
from ingressctl.security import htpasswd


class Table(Protocol):
    """The parts of ingressctl.routing.RoutingTable the proxy uses."""

    @property
    def routes(self) -> Sequence[Route]: ...

    @property
    def certificates(self) -> Sequence[TLSCertificate]: ...

    @property
    def default_route(self) -> Route | None: ...

    def match(self, host: str, path: str) -> Match | None: ...


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


@dataclass(frozen=True, slots=True)
class EntrypointInfo:
    """What a redirect or a route restriction needs to know about an entrypoint."""

    name: str
    scheme: str  # "http" or "https"
    port: int  # the port it listens on


class Authenticator:
    """Basic auth against htpasswd pairs; verification through ingressctl.security (cached)."""

    __slots__ = ("challenge", "realm", "source", "users")

    def __init__(self, users: Sequence[tuple[str, str]], realm: str, source: str) -> None:
        self.users = tuple(users)
        self.realm = realm or "ingressctl"
        self.source = source
        escaped = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{escaped}"'

    @classmethod
    def from_basic_auth(cls, auth: BasicAuth) -> Authenticator:
        return cls(auth.users, auth.realm, auth.source)

    def credentials(self, header: str | None) -> tuple[str, str] | None:
        if not header:
            return None
        return htpasswd.parse_basic_authorization(header)

    def is_slow(self, user: str, password: str) -> bool:
        return htpasswd.is_slow(self.users, user, password)

    def verify(self, user: str, password: str) -> bool:
        return bool(self.users) and htpasswd.verify(self.users, user, password)


class RoutePlan:
    __slots__ = (
        "auth",
        "backend_label",
        "balancer",
        "problem",
        "problem_detail",
        "redirect",
        "route",
        "route_id",
        "scheme",
        "source_ranges",
        "strip_prefix",
    )

    def __init__(self, route: Route) -> None:
        self.route = route
        self.route_id = route.id
        backend = route.backend
        self.backend_label = backend.label
        self.scheme = backend.scheme
        self.balancer = SmoothWeightedRoundRobin(backend.upstreams)
        self.problem: BackendProblem | None = backend.problem
        self.problem_detail = backend.problem_detail
        if self.problem is None and not len(self.balancer):
            self.problem = BackendProblem.NO_READY_ENDPOINTS
            self.problem_detail = self.problem_detail or "no usable endpoint"
        mw = route.middlewares
        self.redirect: Redirect | None = mw.redirect
        self.auth = Authenticator.from_basic_auth(mw.basic_auth) if mw.basic_auth is not None else None
        self.source_ranges = SourceRanges(mw.allow_source_ranges) if mw.allow_source_ranges else None
        self.strip_prefix = _strip_prefix(route)


def _strip_prefix(route: Route) -> str | None:
    """The prefix removed before forwarding (Route.strip_prefix, when the compiler sets it)."""
    value = getattr(route, "strip_prefix", None)
    if not value:
        return None
    if value is True:
        value = route.path
    if not isinstance(value, str) or value in ("", "/"):
        return None
    return value.rstrip("/")


def strip(path: str, prefix: str) -> str:
    """Remove `prefix` (no trailing slash) from the start of `path`; the result starts with "/"."""
    if not path.startswith(prefix):
        return path
    rest = path[len(prefix) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else "/" + rest


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
        RoutePlan (balancer position, parsed allow-list, authenticator), and an entrypoint table
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
