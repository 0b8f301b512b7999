"""`ingressctl routes PATH...` / `routes --kubernetes [--watch]`: the routing table the proxy would run,
and `--explain URL`."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ingressctl.cli.cluster import (
    CONTEXT_OPTION,
    KUBECONFIG_OPTION,
    KUBERNETES_OPTION,
    LABEL_SELECTOR_OPTION,
    NAMESPACE_OPTION,
    check_cluster,
    cluster_source,
)
from ingressctl.cli.validate_cmd import compile_options, load_and_check
from ingressctl.model import Route, Severity, UsageError

if TYPE_CHECKING:
    from ingressctl.checks.routes_view import Explanation
    from ingressctl.cli.routes_watch import RouteKey
    from ingressctl.model.config import StaticConfig
    from ingressctl.routing import RoutingTable


class RoutesFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _endpoints(route: Route) -> Text:
    upstreams = route.backend.upstreams
    if not upstreams:
        return Text("0", style="red")
    ready = sum(1 for u in upstreams if not u.fallback)
    fallback = len(upstreams) - ready
    label = f"{ready} ready" + (f", {fallback} fallback" if fallback else "")
    return Text(f"{label}: " + ", ".join(u.authority for u in upstreams))


def _host(route: Route) -> str:
    if route.is_default_backend:
        return "(default backend)"
    return route.host or "(any host)"


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

    For `--watch`: `row_styles` maps `routes_watch.route_key(route)` to a row style, and `removed`
    routes are appended in `removed_style` (they are gone from `table`).
    """
    from ingressctl.cli.routes_watch import route_key
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
                _host(route),
                route.path or "-",
                _path_type(route),
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
            _host(route),
            route.path or "-",
            _path_type(route),
            _backend_cell(route),
            _endpoints(route),
            route.tls.value if route.tls is not None else "-",
            ", ".join(chain_labels(route)) or "-",
            f"{route.source.namespace}/{route.source.name}",
            _status_cell(route, detailed=True),
            style=style(index, route),
        )
    return out


_routes_table = routes_table  # the name tests and older callers import


def _backend_cell(route: Route) -> str:
    """Service:port, and the protocol when it is not plain HTTP/1.1."""
    scheme = route.backend.scheme
    return route.backend.label if scheme == "http" else f"{route.backend.label} ({scheme})"


def _route_line(route: Route) -> str:
    from ingressctl.checks.routes_view import route_status

    where = f"{_host(route)} {_path_type(route)} {route.path or '/'}"
    if route.is_default_backend:
        where = "defaultBackend"
    return f"{route.id}: {where} -> {route.backend.label} [{route_status(route)}] (from {route.source})"


def _print_explanation(console: Console, explanation: Explanation, static: StaticConfig) -> None:
    from ingressctl.checks.entrypoints_view import entrypoint_line, serving
    from ingressctl.checks.routes_view import route_status

    request = explanation.request
    console.print(Text(f"request: {request.url} (host {request.host}, path {request.path})"))
    if request.canonical is not None and request.canonical != request.path:
        console.print(Text(f"canonical path: {request.canonical}"))
    match = explanation.match
    if match is None:
        console.print(Text(f"no route: {explanation.reason}", style="bold red"))
        return
    console.print(Text("winner: ", style="bold") + Text(_route_line(match.route)))
    console.print(Text("reason: ", style="bold") + Text(explanation.reason))
    eps = serving(match.route, static.entrypoints, static.default_entrypoints)
    console.print(Text("entrypoints: ", style="bold") + Text("; ".join(entrypoint_line(ep) for ep in eps)))
    backend = match.route.backend
    backend_line = f"{backend.label} over {backend.scheme}"
    if backend.tls is not None:
        backend_line += f" ({backend.tls.describe()})"
    console.print(Text("backend: ", style="bold") + Text(backend_line))
    from ingressctl.routing.chain import route_chain
    from ingressctl.routing.chain_nginx import RewriteTargetSpec

    chain = route_chain(match.route)
    if chain:
        console.print(Text("middlewares, in the order the proxy applies them:", style="bold"))
        for number, spec in enumerate(chain, 1):
            effect = str(spec.describe()["effect"])
            if isinstance(spec, RewriteTargetSpec) and request.canonical is not None:
                effect += f"; this request goes upstream as {spec.rewrite(request.canonical)}"
            console.print(Text(f"  {number}. {spec.label}: {effect}"))
        from ingressctl.routing.chain import upstream_path

        if request.canonical is not None:
            sent = upstream_path(match.route, request.canonical)
            if sent != request.canonical:
                console.print(Text(f"path sent upstream: {sent}"))
    else:
        console.print(Text("middlewares: none"))
    if explanation.status == 503:
        problem = f"{route_status(match.route)} {match.route.backend.problem_detail}".rstrip()
        console.print(Text(f"the proxy answers 503: {problem}", style="red"))
    if match.shadowed:
        console.print(Text("shadowed:", style="bold"))
        for route in match.shadowed:
            console.print(Text(f"  - {_route_line(route)}"))
    else:
        console.print(Text("shadowed: none"))


def routes(
    paths: list[str] | None = typer.Argument(
        None,
        metavar="PATH",
        help="Manifest files or directories (YAML, multi-document); '-' reads stdin. Not with --kubernetes.",
        show_default=False,
    ),
    output_format: RoutesFormat = typer.Option(
        RoutesFormat.TABLE,
        "--format",
        "-f",
        case_sensitive=False,
        help="table, or json (ingressctl.routes/v1).",
    ),
    explain_url: str | None = typer.Option(
        None,
        "--explain",
        metavar="URL",
        help="Which route serves URL (http://HOST/PATH or HOST/PATH), why, and what it shadows.",
    ),
    ingress_class: str = typer.Option(
        "ingressctl", "--ingress-class", help="Ingress class ingressctl serves (kubernetes.io/ingress.class)."
    ),
    controller_name: str = typer.Option(
        "ingressctl.io/ingress-controller",
        "--controller-name",
        help="IngressClass spec.controller that ingressctl claims.",
    ),
    allow_external_name_services: bool = typer.Option(
        False, "--allow-external-name-services", help="Proxy ExternalName Services."
    ),
    kubernetes: bool = KUBERNETES_OPTION,
    kubeconfig: str | None = KUBECONFIG_OPTION,
    context: str | None = CONTEXT_OPTION,
    namespaces: list[str] | None = NAMESPACE_OPTION,
    label_selector: str | None = LABEL_SELECTOR_OPTION,
    config_file: str | None = typer.Option(
        None,
        "--config",
        "-c",
        metavar="FILE",
        help="traefik.toml whose entrypoints (and their protocols) to show; default: http :80, https :443.",
    ),
    watch: bool = typer.Option(
        False,
        "--watch",
        "-w",
        help="With --kubernetes: redraw on every change of the cluster until Ctrl-C "
        "(one JSON line per change when stdout is not a terminal, or with --format json).",
    ),
) -> None:
    """Show the routes the proxy would serve for these manifests (or, with --kubernetes, the cluster).

    Exit 1 when --explain finds no route; 2 for unreadable input or an unreachable or refusing API server.
    """
    from ingressctl.checks.entrypoints_view import entrypoint_dict, entrypoint_line
    from ingressctl.checks.routes_view import explain, explanation_document, routes_document
    from ingressctl.config import ConfigOverrides, load_static_config
    from ingressctl.routing import RoutingTable

    static = load_static_config(config_file, ConfigOverrides())

    cluster = cluster_source(
        paths=paths,
        kubernetes=kubernetes,
        kubeconfig=kubeconfig,
        context=context,
        namespaces=namespaces,
        label_selector=label_selector,
    )
    # A cluster snapshot holds every Service and every referenced Secret: a missing one is really missing.
    options = compile_options(
        ingress_class, controller_name, allow_external_name_services, require_services=cluster is not None
    )
    if watch:
        if cluster is None:
            raise UsageError("--watch follows a cluster: add --kubernetes")
        if explain_url is not None:
            raise UsageError("--watch and --explain do not combine: drop one of them")
        from ingressctl.cli.routes_watch import watch_routes

        json_lines = output_format is RoutesFormat.JSON or not sys.stdout.isatty()
        watch_routes(cluster, options, json_lines=json_lines)
        return
    result = check_cluster(cluster, options) if cluster is not None else load_and_check(paths or [], options)
    table = result.table if result.table is not None else RoutingTable(())
    err = Console(stderr=True, highlight=False)
    problems = result.count(Severity.ERROR)
    if problems:
        noun = "problem" if problems == 1 else "problems"
        err.print(f"{problems} {noun}; run ingressctl validate for details", soft_wrap=True)
    out = Console(highlight=False, soft_wrap=True)
    if explain_url is not None:
        explanation = explain(table, explain_url)
        if output_format is RoutesFormat.JSON:
            document = explanation_document(explanation)
            if explanation.match is not None:
                from ingressctl.checks.entrypoints_view import serving

                eps = serving(explanation.match.route, static.entrypoints, static.default_entrypoints)
                document["entrypoints"] = [entrypoint_dict(ep) for ep in eps]
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            _print_explanation(out, explanation, static)
        raise typer.Exit(1 if explanation.match is None else 0)
    if output_format is RoutesFormat.JSON:
        document = routes_document(table)
        document["entrypoints"] = [entrypoint_dict(ep) for ep in static.entrypoints]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    rendered = routes_table(table)
    natural = Console(width=10_000).measure(rendered).maximum
    if not out.is_terminal:
        # Piped or redirected: never squeeze cells into 80 columns, grep and less want whole lines.
        out.width = max(out.width, natural)
    elif natural > out.width:
        # A narrow terminal: the essentials readable beat every column crushed (JSON has the rest).
        rendered = routes_table(table, compact=True)
    out.print(rendered)
    out.print(Text("Entrypoints:", style="bold"))
    for ep in static.entrypoints:
        out.print(Text(f"  {entrypoint_line(ep)}"))
    if table.certificates:
        out.print(Text("Certificates (from Secrets):", style="bold"))
        for cert in table.certificates:
            out.print(Text(f"  {', '.join(cert.hosts)}: Secret {cert.secret.namespace}/{cert.secret.name}"))


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("routes")(routes)


def _path_type(route: Route) -> str:
    """The path type column: ingress-nginx regex paths (use-regex, rewrite-target) say so."""
    if route.is_default_backend:
        return "-"
    if route.regex is not None:
        return f"{route.path_type.value}, regex ~*"
    return route.path_type.value
