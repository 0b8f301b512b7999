"""`routes --explain` for routes of HTTPRoutes: whether one matches a request (host, path, method,
headers, query, as the proxy decides) and why it wins, naming the rule and the listeners carrying it."""

from __future__ import annotations

from collections.abc import Sequence

from ingressctl.gateway.hostnames import wildcard_covers
from ingressctl.gateway.index import RequestView, matches
from ingressctl.model import HostKind, Route


def route_matches(route: Route, host: str, request: RequestView) -> bool:
    gateway = route.gateway
    assert gateway is not None
    if route.host_kind is HostKind.EXACT and route.host != host:
        return False
    if route.host_kind is HostKind.WILDCARD and (route.host is None or not wildcard_covers(route.host, host)):
        return False
    return matches(gateway, request)


def reason(winner: Route, others: Sequence[Route], host: str) -> str:
    gateway = winner.gateway
    assert gateway is not None
    if winner.host_kind is HostKind.EXACT:
        where = f"hostname {winner.host}"
    elif winner.host_kind is HostKind.WILDCARD:
        where = f"wildcard hostname {winner.host} matches {host}"
    else:
        where = "no hostname (any host)"
    text = (
        f"{gateway.route} rules[{gateway.rule}].matches[{gateway.match}]: {where}, {gateway.describe()}; "
        f"carried by {', '.join(gateway.parents)}"
    )
    rivals = [o for o in others if not o.is_default_backend]
    if rivals:
        text += (
            f"; it ranks first of {len(rivals) + 1} matching rules by the Gateway API's precedence "
            "(hostname, Exact path, longest PathPrefix, method, most headers, most query parameters, "
            "oldest route, namespace/name, rule order)"
        )
    return text
