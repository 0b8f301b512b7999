"""`ingressctl routes PATH...` / `routes --kubernetes [--watch]`: the routing table the proxy would run,
and `--explain URL`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
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
from ingressctl.cli.routes_render import host_label, path_type_label, routes_table
from ingressctl.cli.validate_cmd import compile_options, load_and_check
from ingressctl.model import Route, Severity, UsageError

if TYPE_CHECKING:
    from ingressctl.checks.routes_view import Explanation
    from ingressctl.model.config import StaticConfig


class RoutesFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _route_line(route: Route) -> str:
    from ingressctl.checks.routes_view import route_status

    where = f"{host_label(route)} {path_type_label(route)} {route.path or '/'}"
    if route.gateway is not None:
        where = f"{host_label(route)} {route.gateway.describe()}"
    if route.is_default_backend:
        where = "defaultBackend"
    return f"{route.id}: {where} -> {route.backend.label} [{route_status(route)}] (from {route.source})"


def _headers(values: list[str]) -> dict[str, str]:
    """-H 'Name: value' (as curl writes them), looked up case-insensitively like a request's."""
    from multidict import CIMultiDict

    headers: CIMultiDict[str] = CIMultiDict()
    for value in values:
        name, colon, text = value.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"--header {value!r}: write it as 'Name: value'")
        headers.add(name.strip(), text.strip())
    return headers  # type: ignore[return-value]


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
    from ingressctl.routing.chain_entrypoint import entrypoint_chain
    from ingressctl.routing.chain_nginx import RewriteTargetSpec

    # The entrypoints' own stages wrap the route's chain (compress sees the final response).
    outer = [spec for ep in eps for spec in entrypoint_chain(ep)]
    chain = (*outer, *route_chain(match.route))
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
    request_headers: list[str] | None = typer.Option(
        None,
        "--header",
        "-H",
        metavar="'NAME: VALUE'",
        help="With --explain: a request header (repeatable), for HTTPRoute header matches.",
        show_default=False,
    ),
    method: str = typer.Option(
        "GET",
        "--request",
        "-X",
        metavar="METHOD",
        help="With --explain: the request method (HTTPRoute method matches).",
    ),
    gateway_controller_name: str = typer.Option(
        "ingressctl.io/gateway-controller",
        "--gateway-controller-name",
        help="GatewayClass spec.controllerName that ingressctl claims.",
    ),
    gateway_class: str | None = typer.Option(
        None, "--gateway-class", metavar="NAME", help="Only the Gateways of this GatewayClass."
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
    from ingressctl.config.options import entrypoint_ports

    options = compile_options(
        ingress_class,
        controller_name,
        allow_external_name_services,
        require_services=cluster is not None,
        gateway_controller_name=gateway_controller_name,
        gateway_class=gateway_class,
        # Gateway listeners attach to the entrypoints of --config (without one: any listener port).
        entrypoint_ports=entrypoint_ports(static) if config_file else (),
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
        explanation = explain(table, explain_url, method.upper(), _headers(request_headers or []))
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
