"""`ingressctl serve --check`: everything `serve` decides before it listens, then exit.

For CI and pre-deploy checks of a container's real arguments: the configuration (and every refusal
`serve` would make at start, such as an API reachable without authentication), the manifests and/or
one LIST of the cluster, compiled with the options `serve` compiles with. Prints the listeners, the
routes and every finding (validate's text format); binds no port and writes nothing to the cluster.

Exit codes (as validate): 0 no errors, 1 errors in what would be served, 2 `serve` would refuse to
start (configuration, unreadable manifests, an unreachable or refusing API server).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ingressctl.checks import CheckResult
from ingressctl.model import Diagnostic, Severity, Snapshot
from ingressctl.model.config import EntryPoint, StaticConfig


@dataclass(frozen=True, slots=True)
class _Loaded:
    """The manifests and the cluster read together (checks.LoadResultLike), as serve merges them."""

    snapshot: Snapshot
    diagnostics: Sequence[Diagnostic] = ()
    skipped: Mapping[str, int] = field(default_factory=dict)
    files: Sequence[str] = ()


def _refusals_at_start(static: StaticConfig) -> None:
    """What serve checks only when it starts a part (ConfigError, exit 2), checked now."""
    if static.api is not None:
        from ingressctl.api.exposure import check_api_exposure

        check_api_exposure(static.api.address, static.api.auth, static.api.insecure)


def _load(static: StaticConfig) -> tuple[_Loaded, list[str]]:
    """Read every source serve would watch, once; and where each came from."""
    from ingressctl.server.watcher import merge_snapshots

    snapshots: list[Snapshot] = []
    diagnostics: list[Diagnostic] = []
    skipped: dict[str, int] = {}
    files: list[str] = []
    sources: list[str] = []
    if static.manifests:
        from ingressctl.manifests import load_paths

        loaded = load_paths(list(static.manifests), stdin=sys.stdin if "-" in static.manifests else None)
        snapshots.append(loaded.snapshot)
        diagnostics.extend(loaded.diagnostics)
        for kind, count in loaded.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + count
        files.extend(loaded.files)
        count = len(loaded.files)
        sources.append(f"manifests {', '.join(static.manifests)} ({count} file{'s' if count != 1 else ''})")
    if static.kubernetes is not None:
        from ingressctl.providers.kubernetes import connect, list_update
        from ingressctl.server.run import server_compile_options

        connection = connect(static.kubernetes)
        gateway = server_compile_options(static).gateway
        try:
            update = list_update(static.kubernetes, connection=connection, gateway=gateway)
        finally:
            connection.close()
        snapshots.append(update.snapshot)
        diagnostics.extend(update.diagnostics)
        sources.append(f"the cluster at {connection.endpoint} ({connection.source}), listed once")
    return _Loaded(merge_snapshots(snapshots), diagnostics, skipped, files), sources


def _entrypoint(ep: EntryPoint) -> str:
    notes = ["tls"] if ep.tls is not None else []
    if ep.redirect is not None:
        notes.append(f"redirects to {ep.redirect.entrypoint}")
    if ep.auth is not None:
        notes.append("basic auth")
    return f"{ep.name}={ep.address}" + (f" ({', '.join(notes)})" if notes else "")


def _routes(result: CheckResult, default_entrypoints: Sequence[str]) -> list[str]:
    from ingressctl.checks.routes_view import route_dict

    table = result.table
    if table is None:
        return []
    routes = [*table.routes, *([table.default_route] if table.default_route is not None else [])]
    lines = []
    for route in routes:
        doc = route_dict(route)
        backend = doc["backend"]
        target = f"{backend['namespace']}/{backend['service']}:{backend['port']}"
        host = doc["host"] or "*"
        where = "default backend" if doc["is_default_backend"] else f"{host}{doc['path']}"
        ready = doc["endpoints"]["ready"]
        lines.append(
            f"  {where} [{','.join(doc['entrypoints'] or default_entrypoints)}] -> {target} "
            f"({ready} endpoint{'s' if ready != 1 else ''}) {doc['status']}"
        )
    return lines


def run_check(static: StaticConfig) -> int:
    """Print what serve would serve and every problem; the exit code (0, 1; 2 raises ConfigError...)."""
    from ingressctl.checks import check
    from ingressctl.checks.formats import get_format
    from ingressctl.server.run import server_compile_options

    _refusals_at_start(static)
    loaded, sources = _load(static)
    result = check(loaded, server_compile_options(static), now=datetime.datetime.now(datetime.UTC))
    out: list[str] = [f"configuration: {static.source or 'command line'}"]
    out.append("entrypoints: " + ("; ".join(_entrypoint(e) for e in static.entrypoints) or "none"))
    if static.api is not None:
        protection = "basic auth" if static.api.auth is not None and static.api.auth.users else "no auth"
        out.append(f"api: {static.api.address} ({protection})")
    else:
        out.append("api: off")
    out.append(f"ping: {static.ping_address or 'off (the API answers /ping and /ready)'}")
    out.extend(f"source: {source}" for source in sources)
    routes = _routes(result, static.default_entrypoints)
    out.append(f"routes: {len(routes)}")
    out.extend(routes)
    sys.stdout.write("\n".join(out) + "\n\n")
    sys.stdout.write(get_format("text").render(result))
    sys.stdout.flush()
    for warning in static.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in _certificate_problems(static):
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if result.count(Severity.ERROR) else 0


def _certificate_problems(static: StaticConfig) -> list[str]:
    """The certificate files of TLS entrypoints, read as serve reads them at start."""
    if not any(ep.tls is not None for ep in static.entrypoints):
        return []
    from ingressctl.tls.store import CertificateStore

    return [str(problem) for problem in CertificateStore().load_static(static)]
