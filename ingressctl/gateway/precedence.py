"""The Gateway API's precedence between matching rules, as one sortable key (smaller wins).

From the HTTPRoute specification: the most specific hostname first (an exact host, then the
longest wildcard, then no hostname), then an Exact path, then the longest PathPrefix, then a
method match, the most header matches, the most query parameter matches; across routes the oldest
(creationTimestamp), then namespace/name in alphabetical order; within a route the first rule and
match. RegularExpression paths (implementation-specific) rank with prefixes by the length of the
expression.
"""

from __future__ import annotations

from ingressctl.model import HostKind, PathType, Route
from ingressctl.model.gateway import HTTPRoute, HTTPRouteMatch, PathMatchType
from ingressctl.model.gateway_routes import Rank
from ingressctl.routing.paths import match_length, prefix_key

_TIER = {HostKind.EXACT: 0, HostKind.WILDCARD: 1, HostKind.ANY: 2}


def gateway_rank(
    hostname: str | None, match: HTTPRouteMatch, route: HTTPRoute, rule: int, index: int
) -> Rank:
    if hostname is None:
        tier, wildcard = 2, 0
    elif hostname.startswith("*."):
        tier, wildcard = 1, -len(hostname)
    else:
        tier, wildcard = 0, 0
    path = match.path
    if path.type is PathMatchType.EXACT:
        path_class, length = 0, len(path.value)
    elif path.type is PathMatchType.PATH_PREFIX:
        path_class, length = 1, max(len(prefix_key(path.value)), 1)
    else:
        path_class, length = 1, len(path.value)
    ts = route.meta.creation_timestamp
    return (
        tier,
        wildcard,
        path_class,
        -length,
        -1 if match.method else 0,
        -len(match.headers),
        -len(match.query_params),
        ts == "",
        ts,
        f"{route.meta.namespace}/{route.meta.name}",
        rule,
        index,
    )


def route_rank(route: Route) -> Rank:
    """The rank of any route: an HTTPRoute's own, or an Ingress route's (host tier, exactness, length)."""
    if route.gateway is not None:
        return route.gateway.rank
    path_class = 0 if route.path_type is PathType.EXACT else 1
    wildcard = -len(route.host) if route.host_kind is HostKind.WILDCARD and route.host else 0
    return (
        _TIER[route.host_kind],
        wildcard,
        path_class,
        -match_length(route.path, route.path_type),
        0,
        0,
        0,
        False,
        "",
        "",
        0,
        0,
    )
