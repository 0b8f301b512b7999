"""How `routes` draws the routing table, shared by the one-shot command (routes_cmd) and `--watch`
(routes_watch), so that neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ingressctl.model import Route

if TYPE_CHECKING:
    from ingressctl.routing import RoutingTable

RouteKey = tuple[str, str, str, str, str, bool]


def route_key(route: Route) -> RouteKey:
    """What makes a route the same route to a reader across changes (ids shift when rules move)."""
    source = route.source
    return (
        f"{source.namespace}/{source.name}",
        route.host or "",
        route.path or "",
        route.path_type.value,
        ",".join(route.entrypoints),
        route.is_default_backend,
    )


def _endpoints(route: Route) -> Text:
    upstreams = route.backend.upstreams
    if not upstreams:
        return Text("0", style="red")
    ready = sum(1 for u in upstreams if not u.fallback)
    fallback = len(upstreams) - ready
    label = f"{ready} ready" + (f", {fallback} fallback" if fallback else "")
    return Text(f"{label}: " + ", ".join(u.authority for u in upstreams))


def host_label(route: Route) -> str:
    """The Host column: the rule's host, or what stands in for a route without one."""
    if route.is_default_backend:
        return "(default backend)"
    return route.host or "(any host)"


def path_type_label(route: Route) -> str:
    """The path type column: ingress-nginx regex paths (use-regex, rewrite-target) say so."""
    if route.is_default_backend:
        return "-"
    if route.regex is not None and route.regex.path_regexp:
        return "PathRegexp"  # Traefik router.pathmatcher
    if route.regex is not None:
        return f"{route.path_type.value}, regex ~*"
    if route.gateway is not None:
        return route.gateway.describe().split(" ", 1)[0] + "".join(
            f", {part}" for part in route.gateway.describe().split(", ")[1:]
        )
    return route.path_type.value


def source_label(route: Route) -> str:
    """The Source column: the Ingress, or the HTTPRoute's rule and the listeners carrying it."""
    source = f"{route.source.namespace}/{route.source.name}"
    if route.gateway is None:
        return source
    return f"HTTPRoute {source} rules[{route.gateway.rule}] via {'; '.join(route.gateway.parents)}"


def _status_cell(route: Route, *, detailed: bool) -> Text:
    from ingressctl.checks.routes_view import route_status

    status = route_status(route)
    if status == "ok":
        return Text("ok", style="green")
    detail = route.backend.problem_detail
    return Text(f"503 {status}: {detail}" if detailed and detail else f"503 {status}", style="red")


def routes_table(
    table: RoutingTable,
    *,
    compact: bool = False,
    row_styles: Mapping[RouteKey, str] | None = None,
    removed: Sequence[Route] = (),
    removed_style: str = "",
) -> Table:
    """Every route and the default backend; `compact` keeps what fits a narrow terminal.

    For `--watch`: `row_styles` maps `route_key(route)` to a row style, and `removed`
    routes are appended in `removed_style` (they are gone from `table`).
    """
    from ingressctl.routing.chain import chain_labels

    out = Table(title="Routes", title_justify="left", expand=False)
    current = [*table.routes, *([table.default_route] if table.default_route is not None else [])]
    routes = [*current, *removed]
    gone = len(current)
    styles = row_styles or {}

    def style(index: int, route: Route) -> str | None:
        if index >= gone:
            return removed_style or None
        return styles.get(route_key(route)) if styles else None

    if compact:
        for header in ("Host", "Path", "Type", "Service:port", "Ready", "Status"):
            out.add_column(header, overflow="fold")
        for index, route in enumerate(routes):
            upstreams = route.backend.upstreams
            ready = sum(1 for u in upstreams if not u.fallback)
            out.add_row(
                host_label(route),
                route.path or "-",
                path_type_label(route),
                route.backend.label,
                Text(f"{ready}/{len(upstreams)}", style="red" if not ready else ""),
                _status_cell(route, detailed=False),
                style=style(index, route),
            )
        return out
    for header in (
        "Entrypoints",
        "Host",
        "Path",
        "Path type",
        "Service:port",
        "Endpoints",
        "TLS",
        "Middlewares",
        "Source",
        "Status",
    ):
        out.add_column(header, overflow="fold")
    for index, route in enumerate(routes):
        out.add_row(
            ", ".join(route.entrypoints) or "(default)",
            host_label(route),
            route.path or "-",
            path_type_label(route),
            _backend_cell(route),
            _endpoints(route),
            route.tls.value if route.tls is not None else "-",
            ", ".join(chain_labels(route)) or "-",
            source_label(route),
            _status_cell(route, detailed=True),
            style=style(index, route),
        )
    return out


def _backend_cell(route: Route) -> str:
    """Service:port, and the protocol when it is not plain HTTP/1.1."""
    scheme = route.backend.scheme
    return route.backend.label if scheme == "http" else f"{route.backend.label} ({scheme})"
