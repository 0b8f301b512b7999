"""The part of the routing table that serves HTTPRoute matches needing more than host and path:
methods, headers, query parameters, RegularExpression paths and Gateway API wildcard hosts (any
number of labels). Routes of plain host+path matches stay in the table's fast index; a table
without conditional routes has no GatewayIndex at all, so Ingress routing pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from urllib.parse import parse_qsl

from ingressctl.gateway.precedence import route_rank
from ingressctl.model import Match, Route
from ingressctl.model.gateway import PathMatchType, ValueMatch, ValueMatchType
from ingressctl.model.gateway_routes import GatewayMatch, Rank
from ingressctl.routing.paths import prefix_key
from ingressctl.routing.userregex import UserRegex, compile_user_regex


@lru_cache(maxsize=4096)
def _full(pattern: str) -> UserRegex:
    # Checked (and refused when bad) by the compiler already: whole-value matches, as Envoy's.
    return compile_user_regex(f"(?:{pattern})$")


def regex_problem(pattern: str) -> str:
    """Why `pattern` cannot be matched ("" when it can)."""
    try:
        _full(pattern)
    except ValueError as exc:
        return str(exc)
    return ""


class RequestView:
    """What the conditions read of one request; the query is parsed only when a route asks."""

    __slots__ = ("_query", "headers", "method", "path", "query")

    def __init__(self, path: str, method: str, headers: Mapping[str, str], query: str) -> None:
        self.path = path
        self.method = method
        self.headers = headers
        self.query = query
        self._query: dict[str, str] | None = None

    def param(self, name: str) -> str | None:
        if self._query is None:
            params: dict[str, str] = {}
            for key, value in parse_qsl(self.query, keep_blank_values=True):
                params.setdefault(key, value)  # the first value of a repeated parameter counts
            self._query = params
        return self._query.get(name)


def _value_ok(condition: ValueMatch, value: str | None) -> bool:
    if value is None:
        return False
    if condition.type is ValueMatchType.EXACT:
        return value == condition.value
    return _full(condition.value).match(value) is not None


def matches(gateway: GatewayMatch, request: RequestView) -> bool:
    """Path, method, headers and query of one match (the host was decided by the index)."""
    path = request.path
    if gateway.path_type is PathMatchType.EXACT:
        if path != gateway.path:
            return False
    elif gateway.path_type is PathMatchType.PATH_PREFIX:
        key = prefix_key(gateway.path)
        if not (path == key or path.startswith(key + "/") or not key):
            return False
    elif _full(gateway.path).match(path) is None:
        return False
    if gateway.method is not None and request.method != gateway.method:
        return False
    headers = request.headers
    for header in gateway.headers:
        if not _value_ok(header, headers.get(header.name)):
            return False
    return all(_value_ok(q, request.param(q.name)) for q in gateway.query_params)


class GatewayIndex:
    __slots__ = ("_any", "_exact", "_matches", "_ranks", "_wildcards")

    def __init__(self, routes: Sequence[Route]) -> None:
        self._exact: dict[str, list[Route]] = {}
        self._wildcards: dict[str, list[Route]] = {}
        self._any: list[Route] = []
        # One Match per route, built once: the request path allocates nothing for its answer.
        self._matches: dict[str, Match] = {}
        # The rank of the table's host+path answers (Ingress routes and plain HTTPRoute matches), by
        # route id: computed once per route, not per request.
        self._ranks: dict[str, Rank] = {}
        for route in sorted(routes, key=route_rank):
            assert route.gateway is not None
            self._matches[route.id] = Match(
                route=route, reason=f"HTTPRoute {route.gateway.route}: {route.gateway.describe()}"
            )
            gateway = route.gateway
            assert gateway is not None
            if gateway.wildcard_suffix:
                self._wildcards.setdefault(gateway.wildcard_suffix, []).append(route)
            elif route.host is not None:
                self._exact.setdefault(route.host, []).append(route)
            else:
                self._any.append(route)

    def best(self, host: str, request: RequestView, bound: Rank | None = None) -> Route | None:
        """The first route (in precedence order) matching the request; only routes ranked before
        `bound` (the table's own answer) are looked at: the others could not win."""
        for candidate in self._candidates(host, bound):
            if matches(candidate.gateway, request):  # type: ignore[arg-type]
                return candidate
        return None

    def _candidates(self, host: str, bound: Rank | None) -> list[Route]:
        """The routes that could serve `host` ahead of `bound`, in precedence order."""
        out: list[Route] = []
        for route in self._exact.get(host, ()):
            if bound is not None and route.gateway.rank >= bound:  # type: ignore[union-attr]
                return out  # sorted, and every wildcard or host-less route ranks after an exact one
            out.append(route)
        if self._wildcards:
            dot = host.find(".")
            while dot > 0:
                for route in self._wildcards.get(host[dot:], ()):
                    if bound is not None and route.gateway.rank >= bound:  # type: ignore[union-attr]
                        break
                    out.append(route)
                dot = host.find(".", dot + 1)
        for route in self._any:
            if bound is not None and route.gateway.rank >= bound:  # type: ignore[union-attr]
                break
            out.append(route)
        return out

    def select(
        self, fast: Match | None, host: str, path: str, method: str, headers: Mapping[str, str], query: str
    ) -> Match | None:
        """The better of the table's host+path answer and this index's (a tie goes to the table's).

        Only conditional routes ranked before the table's answer are evaluated, and the request is
        read for them only: a request the fast index answers best costs a dict lookup or two."""
        bound: Rank | None = None
        if fast is not None and not fast.route.is_default_backend:
            route = fast.route
            bound = self._ranks.get(route.id)
            if bound is None:
                bound = self._ranks[route.id] = route_rank(route)
        if bound is not None and bound[0] == 0:
            # An exact-host answer: only an exact-host conditional route ranked before it can win.
            exact = self._exact.get(host)
            if exact is None or exact[0].gateway.rank >= bound:  # type: ignore[union-attr]
                return fast
        candidates = self._candidates(host, bound)
        if not candidates:
            return fast
        request = RequestView(path, method, headers, query)
        for candidate in candidates:
            if matches(candidate.gateway, request):  # type: ignore[arg-type]
                return self._matches[candidate.id]
        return fast


def is_indexed(route: Route) -> bool:
    return route.gateway is not None and route.gateway.conditional
