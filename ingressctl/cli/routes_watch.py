"""`ingressctl routes --kubernetes --watch`: the routing table, redrawn on every change of the cluster.

On a terminal: a live table (rich.live.Live) with the routes the last change added or changed
highlighted, removed ones struck through once, and a footer `last change: +2 -1 ~0 at HH:MM:SS`.
Elsewhere (a pipe, a file) or with `--format json`: one JSON line per change, the
`ingressctl.routes/v1` document plus a `change` object:

    {"schema": "ingressctl.routes/v1", "routes": [...], "default_backend": ..., "certificates": [...],
     "change": {"at": "2026-01-02T03:04:05Z", "initial": bool, "added": int, "removed": int, "changed": int,
                "routes": {"added": [id], "removed": [id], "changed": [id]}, "errors": int}}

It runs the Kubernetes provider (LIST + WATCH, the controller's own code) and compiles every snapshot
the way `routes` does, until Ctrl-C or SIGTERM (exit 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from ingressctl.cli.cluster import ClusterLoad, ClusterSource
from ingressctl.cli.routes_render import RouteKey, route_key, routes_table
from ingressctl.model import Route, Severity
from ingressctl.providers.base import ProviderStatus, ProviderUpdate
from ingressctl.routing import CompileCache, RoutingTable
from ingressctl.routing.options import CompileOptions

ADDED_STYLE = "bold green"
CHANGED_STYLE = "bold yellow"
REMOVED_STYLE = "strike dim red"


def _routes_by_key(table: RoutingTable) -> dict[RouteKey, Route]:
    routes = [*table.routes, *([table.default_route] if table.default_route is not None else [])]
    return {route_key(route): route for route in routes}


@dataclass(frozen=True, slots=True)
class Change:
    """What one update did to the routing table."""

    at: datetime.datetime
    initial: bool
    added: tuple[Route, ...] = ()
    removed: tuple[Route, ...] = ()
    changed: tuple[Route, ...] = ()
    errors: int = 0
    styles: Mapping[RouteKey, str] = field(default_factory=dict)

    @property
    def footer(self) -> str:
        return (
            f"last change: +{len(self.added)} -{len(self.removed)} ~{len(self.changed)} "
            f"at {self.at.astimezone():%H:%M:%S}"
        )

    def summary(self) -> dict[str, object]:
        return {
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "initial": self.initial,
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "routes": {
                "added": [r.id for r in self.added],
                "removed": [r.id for r in self.removed],
                "changed": [r.id for r in self.changed],
            },
            "errors": self.errors,
        }


def diff(previous: RoutingTable | None, current: RoutingTable, errors: int, at: datetime.datetime) -> Change:
    """The routes `current` added, removed and changed relative to `previous` (None: the first table)."""
    from ingressctl.checks.routes_view import route_dict

    before = _routes_by_key(previous) if previous is not None else {}
    after = _routes_by_key(current)
    added = tuple(route for key, route in after.items() if key not in before)
    removed = tuple(route for key, route in before.items() if key not in after)
    changed = tuple(
        route
        for key, route in after.items()
        if key in before and route_dict(route) != route_dict(before[key])
    )
    styles = {route_key(r): ADDED_STYLE for r in added} | {route_key(r): CHANGED_STYLE for r in changed}
    if previous is None:
        styles = {}  # the first table: nothing is new to someone who has just started watching
    return Change(at, previous is None, added, removed, changed, errors, styles)


CHROME_LINES = 10  # title, header and borders of the table, "more", footer, status, hint


def visible(table: RoutingTable, styles: Mapping[RouteKey, str], rows: int) -> tuple[RoutingTable, int]:
    """At most `rows` routes of `table`, highlighted (changed) ones first, in table order; and how many
    were left out."""
    routes = [*table.routes, *([table.default_route] if table.default_route is not None else [])]
    if len(routes) <= rows:
        return table, 0
    keys = [route_key(route) for route in routes]
    chosen = {i for i, key in enumerate(keys) if key in styles}
    chosen = set(sorted(chosen)[:rows])
    for i in range(len(routes)):
        if len(chosen) >= rows:
            break
        chosen.add(i)
    default = table.default_route
    kept = [route for i, route in enumerate(table.routes) if i in chosen]
    keep_default = default is not None and len(routes) - 1 in chosen
    shown = RoutingTable(kept, table.certificates, default if keep_default else None)
    return shown, len(routes) - len(chosen)


class RoutesWatch:
    """Compiles each published snapshot and shows it (live table or JSON lines)."""

    def __init__(
        self,
        options: CompileOptions,
        *,
        json_lines: bool,
        out: Console,
        err: Console,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.options = options
        self.json_lines = json_lines
        self.out = out
        self.err = err
        self.clock = clock
        self.table: RoutingTable | None = None
        self.change: Change | None = None
        self.status: ProviderStatus | None = None
        self.live: Live | None = None
        self._cache = CompileCache()  # each change recompiles only what it touched

    # ---------------------------------------------------------------- provider callbacks

    def publish(self, update: ProviderUpdate) -> None:
        from ingressctl.checks import check

        now = self.clock()
        result = check(
            ClusterLoad(update.snapshot, update.diagnostics), self.options, now=now, cache=self._cache
        )
        table = result.table if result.table is not None else RoutingTable(())
        change = diff(self.table, table, result.count(Severity.ERROR), now)
        if not change.initial and not (change.added or change.removed or change.changed):
            return  # the cluster changed in a way no route shows (a Secret nobody serves, a status write)
        self.table, self.change = table, change
        if self.json_lines:
            from ingressctl.checks.routes_view import routes_document

            document = {**routes_document(table), "change": change.summary()}
            sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
            sys.stdout.flush()
        else:
            self.redraw()

    def report(self, status: ProviderStatus) -> None:
        previous, self.status = self.status, status
        if self.json_lines:
            news = previous is None or previous.message != status.message
            if not status.healthy and status.message and news:
                self.err.print(f"kubernetes: {status.message}", markup=False, soft_wrap=True, highlight=False)
            elif status.healthy and previous is not None and not previous.healthy and previous.last_sync:
                self.err.print("kubernetes: connected again", soft_wrap=True, highlight=False)
        else:
            self.redraw()

    # ---------------------------------------------------------------- live table

    def renderable(self) -> RenderableType:

        parts: list[RenderableType] = []
        if self.table is None:
            parts.append(Text("waiting for the first list of the cluster ...", style="dim"))
        else:
            change = self.change
            styles = change.styles if change is not None else {}
            removed = change.removed if change is not None and not change.initial else ()
            # Live crops what does not fit the screen: keep the footer visible and the changed rows in.
            shown, hidden = visible(self.table, styles, max(3, self.out.height - CHROME_LINES - len(removed)))
            table = routes_table(shown, row_styles=styles, removed=removed, removed_style=REMOVED_STYLE)
            if self.out.measure(table).maximum > self.out.width:
                table = routes_table(
                    shown, compact=True, row_styles=styles, removed=removed, removed_style=REMOVED_STYLE
                )
            parts.append(table)
            if hidden:
                more = f"... and {hidden} more routes (a taller terminal, or --format json, shows them all)"
                parts.append(Text(more, style="dim"))
            if change is not None:
                footer = Text(change.footer, style="bold")
                if change.errors:
                    noun = "problem" if change.errors == 1 else "problems"
                    footer.append(f"  ({change.errors} {noun}; run ingressctl validate --kubernetes)", "red")
                parts.append(footer)
        status = self.status
        if status is not None and not status.healthy and status.message:
            parts.append(Text(f"kubernetes: {status.message}", style="red"))
        parts.append(Text("Ctrl-C to stop", style="dim"))
        return Group(*parts)

    def redraw(self) -> None:
        if self.live is not None:
            self.live.update(self.renderable(), refresh=True)


async def _run(source: ClusterSource, watch: RoutesWatch) -> None:
    from ingressctl.providers.kubernetes.client import connect
    from ingressctl.providers.kubernetes.provider import KubernetesProvider
    from ingressctl.providers.kubernetes.watch import stream_specs

    config = source.config()
    # Connect first: a kubeconfig that cannot be used is one error and exit 2, before any watching.
    connection = connect(config, pool_size=len(stream_specs(config.namespaces, "")) + 4)
    provider = KubernetesProvider(config, connection=connection)
    task = asyncio.ensure_future(provider.run(watch.publish, watch.report))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except BrokenPipeError:
        # The reader went away (`... --watch -f json | head -1`): done, quietly. Point stdout at
        # /dev/null so that the interpreter's final flush does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except asyncio.CancelledError:
        # Our own signal handlers cancelled the provider: a normal end. Anyone else's cancel propagates.
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        connection.close()


def watch_routes(source: ClusterSource, options: CompileOptions, *, json_lines: bool) -> None:
    """Run until Ctrl-C / SIGTERM. Raises ConfigError for a kubeconfig that cannot be used."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    watch = RoutesWatch(options, json_lines=json_lines, out=out, err=err)
    if json_lines:
        asyncio.run(_run(source, watch))
        return
    with Live(watch.renderable(), console=out, auto_refresh=False, transient=False) as live:
        watch.live = live
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(source, watch))
