"""The routing table: routes indexed so that `match` costs a few dict lookups whatever its size.

Precedence (design.md, "Routing semantics"), from strongest to weakest:
1. host tier: exact host, then `*.` wildcard (exactly one extra label), then rules without host,
   then the defaultBackend;
2. within a tier: higher priority annotation first;
3. then the longest matching path (a Prefix counts without its trailing slash);
4. at equal length: Exact, then Prefix, then ImplementationSpecific.
After compile() removed conflicts, these four keys single out one route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ingressctl.model import HostKind, Match, PathType, Route, TLSCertificate
from ingressctl.routing.hosts import normalize_request_host, wildcard_suffix
from ingressctl.routing.memo import same_items
from ingressctl.routing.path_regexp import (
    RANK,
    is_path_regexp,
    path_regexp_matches,
    path_regexp_order,
    with_path_regexps,
)
from ingressctl.routing.paths import match_length, path_matches, prefix_key
from ingressctl.routing.regex_table import regex_finder, regex_order, regex_route_matches

if TYPE_CHECKING:
    from ingressctl.gateway.index import GatewayIndex
    from ingressctl.model.gateway import GatewayStatusReport

# The Gateway API code (ingressctl.gateway, ingressctl.model.gateway) is imported where a table has
# HTTPRoutes or explains a request: a table of Ingresses alone (validate of a plain file) never loads
# its ~30 dataclasses (start-up time, issue 18).

_TIER = {HostKind.EXACT: 0, HostKind.WILDCARD: 1, HostKind.ANY: 2}
_DEFAULT_TIER = 3
_TYPE_RANK = {PathType.EXACT: 0, PathType.PREFIX: 1, PathType.IMPLEMENTATION_SPECIFIC: 2}


Finder = Callable[[str], "Match | None"]


def _prefix_depth(prefix: dict[str, Match]) -> int:
    """The most `/`-separated elements any Prefix key has (the root key "" has none)."""
    return max((key.count("/") for key in prefix), default=0)


def _prefix_finder(exact: dict[str, Match], prefix: dict[str, Match]) -> Finder:
    """The common case (no ImplementationSpecific paths) as a closure: cell reads beat attribute reads."""
    exact_get = exact.get
    if not prefix:
        return exact_get
    prefix_get = prefix.get
    depth = _prefix_depth(prefix)

    def find(path: str) -> Match | None:
        hit = exact_get(path)
        if hit is not None:
            # An Exact hit is as long as the request path: nothing else can be longer.
            return hit
        # Walk the request path's `/` boundaries from the longest candidate down to the root ("").
        # No key is deeper than `depth` elements, so the walk starts at that boundary.
        end = len(path)
        if path.count("/") > depth:
            end = 0
            for _ in range(depth):
                end = path.find("/", end + 1)
        while True:
            hit = prefix_get(path[:end])
            if hit is not None or end <= 0:
                return hit
            end = path.rfind("/", 0, end)

    return find


def _prefix_walker(prefix: dict[str, Match]) -> Callable[[str], tuple[Match | None, int]]:
    """The longest Prefix route matching a path, and the length it counts as."""
    prefix_get = prefix.get
    depth = _prefix_depth(prefix)

    def walk(path: str) -> tuple[Match | None, int]:
        if not prefix:
            return None, 0
        end = len(path)
        if path.count("/") > depth:
            end = 0
            for _ in range(depth):
                end = path.find("/", end + 1)
        while True:
            hit = prefix_get(path[:end])
            if hit is not None:
                return hit, max(end, 1)
            if end <= 0:
                return None, 0
            end = path.rfind("/", 0, end)

    return walk


# Above this many distinct ImplementationSpecific lengths, probing each length costs more than a
# binary search over the prefix-closed set of all key prefixes.
_LINEAR_IMPL_LENGTHS = 8


def _impl_prefix_index(impl: dict[str, Match]) -> dict[str, Match | None]:
    """Every prefix of every ImplementationSpecific key → the longest key that is a prefix of it.

    The set of keys is prefix-closed, so the longest indexed prefix of a request path is found by
    binary search on its length, and its value is the answer: O(log max length) lookups.
    """
    nodes: dict[str, Match | None] = {}
    for key in impl:
        for end in range(1, len(key) + 1):
            nodes[key[:end]] = None
    # Shortest first: a node's parent (itself minus its last character) is already final.
    for node in sorted(nodes, key=len):
        own = impl.get(node)
        nodes[node] = own if own is not None else (nodes[node[:-1]] if len(node) > 1 else None)
    return nodes


def _general_finder(
    exact: dict[str, Match], prefix: dict[str, Match], impl: dict[str, Match], impl_lengths: tuple[int, ...]
) -> Finder:
    exact_get = exact.get
    walk = _prefix_walker(prefix)
    impl_get = impl.get
    if len(impl_lengths) > _LINEAR_IMPL_LENGTHS:
        return _searching_finder(exact, prefix, _impl_prefix_index(impl), impl_lengths[0])

    def find(path: str) -> Match | None:
        hit = exact_get(path)
        if hit is not None:
            return hit
        best, best_len = walk(path)
        size = len(path)
        for length in impl_lengths:
            if length <= best_len:
                break  # at equal length Prefix beats ImplementationSpecific
            if length <= size:
                hit = impl_get(path[:length])
                if hit is not None:
                    return hit
        return best

    return find


def _searching_finder(
    exact: dict[str, Match], prefix: dict[str, Match], nodes: dict[str, Match | None], longest: int
) -> Finder:
    exact_get = exact.get
    walk = _prefix_walker(prefix)

    def find(path: str) -> Match | None:
        hit = exact_get(path)
        if hit is not None:
            return hit
        best, best_len = walk(path)
        low, high = 0, min(len(path), longest)  # invariant: path[:low] is a node (or low == 0)
        while low < high:
            middle = (low + high + 1) // 2
            if path[:middle] in nodes:
                low = middle
            else:
                high = middle - 1
        if low:
            impl_hit = nodes[path[:low]]
            if impl_hit is not None and len(impl_hit.route.path) > best_len:
                return impl_hit
        return best

    return find


def _level_finder(routes: Iterable[Route]) -> Finder:
    """One priority level of one host bucket."""
    exact: dict[str, Match] = {}
    prefix: dict[str, Match] = {}
    impl: dict[str, Match] = {}
    for route in routes:
        entry = Match(route=route, reason=_short_reason(route))
        if route.path_type is PathType.EXACT:
            exact.setdefault(route.path, entry)
        elif route.path_type is PathType.PREFIX:
            prefix.setdefault(prefix_key(route.path), entry)
        else:
            impl.setdefault(route.path, entry)
    if not impl:
        return _prefix_finder(exact, prefix)
    lengths = tuple(sorted({len(p) for p in impl}, reverse=True))
    return _general_finder(exact, prefix, impl, lengths)


def _build_finder(routes: Sequence[Route]) -> Finder:
    """All routes of one host bucket; higher priority levels are asked first."""
    regexps = [route for route in routes if is_path_regexp(route)]
    if regexps:
        others = [route for route in routes if not is_path_regexp(route)]
        return with_path_regexps(_build_finder(others) if others else None, regexps, _short_reason)
    if any(route.regex is not None for route in routes):
        return regex_finder(routes, _short_reason)
    by_priority: dict[int, list[Route]] = {}
    for route in routes:
        by_priority.setdefault(route.priority, []).append(route)
    finders = [_level_finder(by_priority[p]) for p in sorted(by_priority, reverse=True)]
    if len(finders) == 1:
        return finders[0]

    def find(path: str) -> Match | None:
        for finder in finders:
            hit = finder(path)
            if hit is not None:
                return hit
        return None

    return find


def _host_phrase(route: Route) -> str:
    if route.is_default_backend:
        return f"defaultBackend of {route.source}"
    if route.host_kind is HostKind.EXACT:
        return f"exact host {route.host}"
    if route.host_kind is HostKind.WILDCARD:
        return f"wildcard host {route.host}"
    return "rule without host"


def _short_reason(route: Route) -> str:
    if route.is_default_backend:
        return f"no rule matched; {_host_phrase(route)}"
    if is_path_regexp(route):
        return f"{_host_phrase(route)}, PathRegexp {route.path}"
    if route.regex is not None:
        return f"{_host_phrase(route)}, regex ~* {route.regex.pattern}"
    return f"{_host_phrase(route)}, {route.path_type.value} {route.path}"


class RoutingTable:
    """Compiled routes, certificates and the default route; immutable once built."""

    __slots__ = (
        "_any",
        "_buckets",
        "_by_host",
        "_default_match",
        "_gateway",
        "_gateway_status",
        "_wildcards",
        "certificates",
        "default_route",
        "routes",
    )

    def __init__(
        self,
        routes: Sequence[Route],
        certificates: Sequence[TLSCertificate] = (),
        default_route: Route | None = None,
        *,
        previous: RoutingTable | None = None,
        gateway_status: GatewayStatusReport | None = None,
    ) -> None:
        """`previous`: a table whose index of a host is reused when that host has the very same
        routes (a reload after one change rebuilds one host's index, not every host's)."""
        self.routes: tuple[Route, ...] = tuple(routes)
        self.certificates: tuple[TLSCertificate, ...] = tuple(certificates)
        self.default_route = default_route
        # The Gateway API status of this compile (ingressctl.gateway.status); the Kubernetes provider
        # writes it (the leader only).
        self._gateway_status = gateway_status
        exact: dict[str, list[Route]] = {}
        wildcards: dict[str, list[Route]] = {}
        any_host: list[Route] = []
        # HTTPRoute matches with methods, headers, query parameters... (ingressctl.gateway.index).
        indexed: list[Route] = []
        self._gateway: GatewayIndex | None = None
        if any(r.gateway is not None for r in self.routes):
            from ingressctl.gateway import index as gateway_index

            indexed = [r for r in self.routes if r.gateway is not None and gateway_index.is_indexed(r)]
            if indexed:
                self._gateway = gateway_index.GatewayIndex(indexed)
        indexed_ids = {id(r) for r in indexed}
        for route in self.routes:
            if indexed_ids and id(route) in indexed_ids:
                continue
            if route.host_kind is HostKind.EXACT and route.host:
                exact.setdefault(route.host, []).append(route)
            elif route.host_kind is HostKind.WILDCARD and route.host:
                wildcards.setdefault(route.host[2:], []).append(route)
            else:
                any_host.append(route)
        # Kept to compare against on the next reload: the lists already exist, only the dict is extra.
        self._buckets = (exact, wildcards, any_host)
        if previous is None:
            self._by_host = {h: _build_finder(rs) for h, rs in exact.items()}
            self._wildcards = {h: _build_finder(rs) for h, rs in wildcards.items()}
            self._any = _build_finder(any_host) if any_host else None
        else:
            old_exact, old_wildcards, old_any = previous._buckets
            self._by_host = _reuse_finders(exact, old_exact, previous._by_host)
            self._wildcards = _reuse_finders(wildcards, old_wildcards, previous._wildcards)
            if not any_host:
                self._any = None
            elif same_items(any_host, old_any) and previous._any is not None:
                self._any = previous._any
            else:
                self._any = _build_finder(any_host)
        self._default_match = (
            Match(route=default_route, reason=_short_reason(default_route)) if default_route else None
        )

    def hosts(self) -> set[str]:
        """Every exact and wildcard host some route serves."""
        return {r.host for r in self.routes if r.host is not None}

    @property
    def gateway_status(self) -> GatewayStatusReport:
        """The Gateway API status of this compile (ingressctl.gateway.status); the Kubernetes
        provider writes it (the leader only)."""
        if self._gateway_status is None:
            from ingressctl.model.gateway import EMPTY_STATUS_REPORT

            return EMPTY_STATUS_REPORT
        return self._gateway_status

    def match(self, host: str, path: str) -> Match | None:
        """The route serving (host, canonical path), or None (404). `shadowed` is left empty."""
        if not path:
            path = "/"
        if ":" in host or host.endswith(".") or not host.islower() or host.startswith("["):
            host = normalize_request_host(host)
        find = self._by_host.get(host)
        if find is not None:
            hit = find(path)
            if hit is not None:
                return hit
        if self._wildcards:
            dot = host.find(".")
            if dot > 0:
                find = self._wildcards.get(host[dot + 1 :])
                if find is not None:
                    hit = find(path)
                    if hit is not None:
                        return hit
        if self._any is not None:
            hit = self._any(path)
            if hit is not None:
                return hit
        return self._default_match

    def match_request(
        self, host: str, path: str, method: str, headers: Mapping[str, str], query: str
    ) -> Match | None:
        """match(), and HTTPRoute conditions on the method, headers and query when the table has some."""
        found = self.match(host, path)
        if self._gateway is None:
            return found
        if ":" in host or host.endswith(".") or not host.islower() or host.startswith("["):
            host = normalize_request_host(host)
        return self._gateway.select(found, host, path or "/", method, headers, query)

    def explain(
        self,
        host: str,
        path: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        query: str = "",
    ) -> Match | None:
        """Like match_request(), with a full reason and every other matching route in precedence order."""
        from ingressctl.gateway import explain as gateway_explain
        from ingressctl.gateway.index import RequestView
        from ingressctl.gateway.overlaps import overlap_note
        from ingressctl.gateway.precedence import route_rank

        if not path:
            path = "/"
        request_host = normalize_request_host(host)
        view = RequestView(path, method, headers or {}, query)
        candidates = [
            r
            for r in self.routes
            if (
                _route_matches(r, request_host, path)
                if r.gateway is None
                else gateway_explain.route_matches(r, request_host, view)
            )
        ]
        # With HTTPRoutes among them, the Gateway API's order (ingressctl.gateway.precedence).
        candidates.sort(key=route_rank if any(r.gateway is not None for r in candidates) else _precedence)
        if self.default_route is not None:
            candidates.append(self.default_route)
        if not candidates:
            return None
        winner = candidates[0]
        return Match(
            route=winner,
            reason=(
                gateway_explain.reason(winner, candidates[1:], request_host)
                if winner.gateway is not None
                else _explain_reason(winner, candidates[1:], request_host, path)
                + overlap_note(winner, candidates[1:])
            ),
            shadowed=tuple(candidates[1:]),
        )


def _reuse_finders(
    buckets: dict[str, list[Route]], old_buckets: dict[str, list[Route]], old_finders: dict[str, Finder]
) -> dict[str, Finder]:
    finders: dict[str, Finder] = {}
    for host, routes in buckets.items():
        old = old_buckets.get(host)
        if old is not None and same_items(routes, old):
            finders[host] = old_finders[host]
        else:
            finders[host] = _build_finder(routes)
    return finders


def _route_matches(route: Route, host: str, path: str) -> bool:
    """Reference semantics of one route, independent of the index (explain and tests rely on it)."""
    if route.host_kind is HostKind.EXACT:
        if route.host != host:
            return False
    elif route.host_kind is HostKind.WILDCARD and (
        route.host is None or wildcard_suffix(host) != route.host[2:]
    ):
        return False
    if is_path_regexp(route):
        return path_regexp_matches(route, path)
    if route.regex is not None:
        return regex_route_matches(route, path)
    return path_matches(route.path, route.path_type, path)


def _precedence(route: Route) -> tuple[int, int, int, int, tuple[int, ...]]:
    tier = _DEFAULT_TIER if route.is_default_backend else _TIER[route.host_kind]
    if is_path_regexp(route):
        priority, length = path_regexp_order(route)
        return (tier, priority, length, RANK, ())
    if route.regex is not None and not route.is_default_backend:
        # ingress-nginx's order of regex locations (routing/regex_table.py); all of a host's paths
        # are regex paths, so these only ever compare with each other.
        priority, length, text = regex_order(route)
        return (tier, priority, length, 0, text)
    rank = _TYPE_RANK[route.path_type]
    return (tier, -route.priority, -match_length(route.path, route.path_type), rank, ())


def _explain_reason(winner: Route, others: Sequence[Route], host: str, path: str) -> str:
    if winner.is_default_backend:
        return f"no rule matches host {host or '(none)'} and path {path}; {_host_phrase(winner)} catches it"
    phrase = _host_phrase(winner)
    if winner.host_kind is HostKind.WILDCARD:
        phrase += f" matches {host}"
    if is_path_regexp(winner):
        later = "" if not others else "; the routes after it rank lower (priority, then path length)"
        return f"{phrase}, PathRegexp {winner.path} matches the path (router.pathmatcher){later}"
    if winner.regex is not None:
        earlier = "" if not others else "; the regexes after it in that order also match"
        return (
            f"{phrase}, regex ~* {winner.regex.pattern} is the first matching regular expression in "
            f"ingress-nginx's order (longest path first; {winner.regex.source}){earlier}"
        )
    elif winner.host_kind is HostKind.ANY:
        phrase += f" (no rule for host {host} matches {path})" if host else ""
    length = match_length(winner.path, winner.path_type)
    rivals = any(not o.is_default_backend and _TIER[o.host_kind] == _TIER[winner.host_kind] for o in others)
    if winner.path_type is PathType.EXACT:
        what = f"Exact {winner.path} equals the path"
    elif rivals:
        chars = "char" if length == 1 else "chars"
        what = f"{winner.path_type.value} {winner.path} is the longest matching path ({length} {chars})"
    else:
        what = f"{winner.path_type.value} {winner.path} is the only matching path"
    if winner.priority:
        what = f"priority {winner.priority} ranks first; {what}"
    parts = [phrase, what]
    notes: list[str] = []
    tier = _TIER[winner.host_kind]
    for other in others:
        if other.is_default_backend:
            continue
        other_tier = _TIER[other.host_kind]
        other_len = match_length(other.path, other.path_type)
        if other_tier == tier:
            if other.priority < winner.priority and other_len > length:
                notes.append(
                    f"priority {winner.priority} beats the longer {other.path_type.value} {other.path} "
                    f"(priority {other.priority})"
                )
            elif other.priority == winner.priority and other_len == length:
                notes.append(f"{winner.path_type.value} beats {other.path_type.value} at equal length")
        elif other_len > length or other.priority > winner.priority:
            if winner.host_kind is HostKind.EXACT and other.host_kind is HostKind.WILDCARD:
                notes.append(f"exact host beats wildcard {other.host} even with a longer or higher path")
            else:
                notes.append(
                    f"a rule for the host beats the rule without host ({other.path_type.value} {other.path})"
                )
    return "; ".join([", ".join(parts), *dict.fromkeys(notes)])
