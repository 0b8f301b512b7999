"""An Ingress rule and an HTTPRoute match that claim the same host and path: the table sends those
requests to the Ingress (an identical host, path and type goes to the Ingress), so the HTTPRoute's
match never serves there. Said once per HTTPRoute match and host, naming both objects and places."""

from __future__ import annotations

from collections.abc import Iterable

from ingressctl.gateway import codes
from ingressctl.model import Diagnostic, HostKind, PathType, Route, Severity
from ingressctl.routing.path_regexp import is_path_regexp
from ingressctl.routing.paths import prefix_key

_Key = tuple[str | None, PathType, str]


def _key(route: Route) -> _Key | None:
    """What decides "the same host and path" (None: a route this comparison does not cover)."""
    if route.host_kind is HostKind.WILDCARD or route.is_default_backend:
        return None  # an Ingress wildcard covers one label, an HTTPRoute one any number: not the same
    if route.path_type is PathType.EXACT:
        return (route.host, PathType.EXACT, route.path)
    if route.path_type is PathType.PREFIX:
        return (route.host, PathType.PREFIX, prefix_key(route.path))
    return None  # ImplementationSpecific and regular expressions: their meaning differs by API


def _shared_entrypoint(a: Route, b: Route) -> bool:
    """No entrypoints named: every default entrypoint, so they meet wherever the other is served."""
    return not a.entrypoints or not b.entrypoints or bool(set(a.entrypoints) & set(b.entrypoints))


def overlap_note(winner: Route, others: Iterable[Route]) -> str:
    """For `routes --explain`: "" unless an Ingress route won over HTTPRoute matches of its very host
    and path, which it does by the table's rule; then a sentence naming them."""
    if winner.gateway is not None:
        return ""
    key = _key(winner)
    if key is None:
        return ""
    losers = [
        o
        for o in others
        if o.gateway is not None
        and not o.gateway.conditional
        and _key(o) == key
        and _shared_entrypoint(winner, o)
    ]
    if not losers:
        return ""
    names = ", ".join(
        f"{o.source} rules[{o.gateway.rule}].matches[{o.gateway.match}]" for o in losers if o.gateway
    )
    return (
        f"; {names} claims the same host and path: the Ingress wins (an identical host, path and type "
        "goes to the Ingress; validate reports IC267)"
    )


def ingress_overlaps(ingress_routes: Iterable[Route], gateway_routes: Iterable[Route]) -> list[Diagnostic]:
    claimed: dict[_Key, list[Route]] = {}
    for route in ingress_routes:
        if route.regex is None and not is_path_regexp(route):
            key = _key(route)
            if key is not None:
                claimed.setdefault(key, []).append(route)
    found: list[Diagnostic] = []
    if not claimed:
        return found
    for route in gateway_routes:
        g = route.gateway
        if g is None or g.conditional:
            continue  # a method, header or query condition: the API's order ranks it first
        key = _key(route)
        rivals = claimed.get(key, []) if key is not None else []
        winner = next((i for i in rivals if _shared_entrypoint(i, route)), None)
        if winner is None:
            continue
        host = route.host or "(any host)"
        where = f"{route.source} ({route.location or 'unknown location'}) rules[{g.rule}].matches[{g.match}]"
        found.append(
            Diagnostic(
                codes.INGRESS_OVERLAP,
                Severity.WARNING,
                f"{where}: host {host} {g.path_type.value} {g.path} is also claimed by {winner.source} "
                f"({winner.location or 'unknown location'}); the Ingress wins (an identical host, path and "
                f"type goes to the Ingress) and this HTTPRoute match never serves",
                location=route.location,
                hint="Serve the host and path from one of the two: remove the Ingress rule once the "
                "HTTPRoute replaces it (migrate --to gateway-api), or give the HTTPRoute another hostname "
                "or path.",
                object=route.source,
                related=(winner.location,) if winner.location is not None else (),
            )
        )
    return found
