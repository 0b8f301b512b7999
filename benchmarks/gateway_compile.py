"""Compile, match and change→routed with Gateway API objects: 1,000 HTTPRoutes against the same 1,000
hosts as Ingresses (the issue: routing with Gateway API objects must be as fast as with Ingresses).

Each HTTPRoute has a plain PathPrefix rule (the table's fast index, like an Ingress path) and a rule
with a header match (the Gateway index); match_request() is timed for both kinds of request, and for
the same request on the Ingress-only table. Change→routed: one object's hostname changes per round
and goes through what `serve`'s watch loop does (Watcher: compile with the CompileCache, the proxy's
TablePlan from the previous one, the swap) until the new hostname is routed; the median of the rounds
(the first, a cold start, left out).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
import timeit
from typing import Any

from benchmarks.report import table
from ingressctl.manifests.objects import object_from_dict
from ingressctl.model import Snapshot

GROUP = "gateway.networking.k8s.io/v1"


def _route_raw(i: int, host: str) -> dict[str, Any]:
    backend = [{"name": f"app-{i}", "port": 80}]
    return {
        "apiVersion": GROUP,
        "kind": "HTTPRoute",
        "metadata": {"name": f"app-{i}", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": [host],
            "rules": [
                {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": backend},
                {"matches": [{"headers": [{"name": "x-canary", "value": "1"}]}], "backendRefs": backend},
            ],
        },
    }


def _ingress_raw(i: int, host: str) -> dict[str, Any]:
    path = {
        "path": "/api",
        "pathType": "Prefix",
        "backend": {"service": {"name": f"app-{i}", "port": {"number": 80}}},
    }
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": f"app-{i}", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"rules": [{"host": host, "http": {"paths": [path]}}]},
    }


def _objects(count: int) -> tuple[Snapshot, Snapshot]:
    services: list[Any] = []
    slices: list[Any] = []
    routes: list[Any] = []
    ingresses: list[Any] = []

    def read(raw: dict[str, Any]) -> Any:
        obj, _ = object_from_dict(raw)
        return obj

    for i in range(count):
        name, host = f"app-{i}", f"app-{i}.example.test"
        services.append(
            read(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                }
            )
        )
        slices.append(
            read(
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080}],
                    "endpoints": [{"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"]}],
                }
            )
        )
        routes.append(read(_route_raw(i, host)))
        ingresses.append(read(_ingress_raw(i, host)))
    gateway_class = read(
        {
            "apiVersion": GROUP,
            "kind": "GatewayClass",
            "metadata": {"name": "ingressctl"},
            "spec": {"controllerName": "ingressctl.io/gateway-controller"},
        }
    )
    gateway = read(
        {
            "apiVersion": GROUP,
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "spec": {
                "gatewayClassName": "ingressctl",
                "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
            },
        }
    )
    base = {"services": tuple(services), "endpoint_slices": tuple(slices)}
    return (
        Snapshot(ingresses=tuple(ingresses), **base),
        Snapshot(gateway_classes=(gateway_class,), gateways=(gateway,), http_routes=tuple(routes), **base),
    )


def _match_us(routing: Any, count: int, headers: dict[str, str]) -> float:
    match = routing.match_request
    hosts = [f"app-{i}.example.test" for i in range(count)]
    counter = iter(range(10**9))

    def one() -> None:
        match(hosts[next(counter) % count], "/api/v1/items", "GET", headers, "")

    number = 100_000
    return min(timeit.repeat(one, number=number, repeat=3)) / number * 1e6


def _changed(snapshot: Snapshot, label: str, round_: int, count: int) -> tuple[Snapshot, str]:
    """`snapshot` with one object's hostname changed (the others the same objects, as the provider
    keeps them), and that new hostname."""
    i = (round_ * 7919) % count
    host = f"app-{i}-r{round_}.example.test"
    if label == "Ingresses":
        obj, _ = object_from_dict(_ingress_raw(i, host))
        items = list(snapshot.ingresses)
        items[i] = obj
        return dataclasses.replace(snapshot, ingresses=tuple(items)), host
    obj, _ = object_from_dict(_route_raw(i, host))
    routes = list(snapshot.http_routes)
    routes[i] = obj
    return dataclasses.replace(snapshot, http_routes=tuple(routes)), host


async def _change_to_routed(snapshot: Snapshot, label: str, count: int, rounds: int) -> float:
    """Median ms from publishing a changed snapshot to the swap of a table routing its new hostname."""
    from ingressctl.model.config import EntryPoint, StaticConfig
    from ingressctl.providers.base import ProviderUpdate
    from ingressctl.proxy import EntrypointInfo, TablePlan
    from ingressctl.routing import CompileCache, RoutingTable
    from ingressctl.routing import compile as compile_routes
    from ingressctl.server.reload import CompiledConfig, Listener
    from ingressctl.server.run import server_compile_options
    from ingressctl.server.state import RuntimeState
    from ingressctl.server.watcher import Watcher

    static = StaticConfig(entrypoints=(EntryPoint(name="web", address="127.0.0.1:80"),), gateway=True)
    options = server_compile_options(static)
    infos = [EntrypointInfo("web", "http", 80)]
    cache = CompileCache()
    live: dict[str, Any] = {}

    def compile_fn(snap: Snapshot) -> tuple[Any, list[Any]]:
        table, diagnostics = compile_routes(snap, options, cache)
        return table, list(diagnostics)

    def plan(table: Any) -> TablePlan:
        return TablePlan(table, infos, static.default_entrypoints, RoutingTable, previous=live.get("plan"))

    def swap(config: CompiledConfig) -> None:
        live["plan"] = config.plan
        live["swapped"] = time.perf_counter()

    state = RuntimeState(static)
    watcher = Watcher(state, compile_fn, [Listener("swap", swap)], plan=plan)
    samples: list[float] = []
    current = snapshot
    for r in range(rounds + 1):
        current, host = _changed(current, label, r, count)
        start = time.perf_counter()
        watcher.publish(ProviderUpdate("bench", current))
        await watcher.apply_now()
        table = state.table()
        assert table is not None and table.match(host, "/api/x") is not None, f"{label} round {r}: not routed"
        samples.append((live["swapped"] - start) * 1000)
    return statistics.median(samples[1:])


def run(rounds: int = 10) -> list[dict[str, object]]:
    from ingressctl.routing import compile as compile_routes
    from ingressctl.routing.options import CompileOptions

    count = 1_000
    ingress_snapshot, gateway_snapshot = _objects(count)
    rows: list[dict[str, object]] = []
    for label, snapshot in (("Ingresses", ingress_snapshot), ("HTTPRoutes", gateway_snapshot)):
        options = CompileOptions(gateway=True, entrypoint_ports=(("web", 80, False),))
        start = time.perf_counter()
        routing, _ = compile_routes(snapshot, options)
        compile_s = time.perf_counter() - start
        rows.append(
            {
                "objects": f"{count} {label}",
                "routes": len(routing.routes),
                "compile_s": compile_s,
                "match_us": _match_us(routing, count, {}),
                "header_match_us": _match_us(routing, count, {"x-canary": "1"})
                if label == "HTTPRoutes"
                else None,
                "change_ms": asyncio.run(_change_to_routed(snapshot, label, count, rounds)),
            }
        )
    return rows


def render(rows: list[dict[str, object]]) -> str:
    headers = (
        "objects",
        "routes",
        "compile (s)",
        "change→routed (ms)",
        "match_request() µs, path only",
        "µs, header match",
    )
    cells = (
        (
            r["objects"],
            r["routes"],
            f"{r['compile_s']:.3f}",
            f"{r['change_ms']:.1f}",
            f"{r['match_us']:.2f}",
            "–" if r["header_match_us"] is None else f"{r['header_match_us']:.2f}",
        )
        for r in rows
    )
    return "\n".join(["## Gateway API: compile and match at 1,000 HTTPRoutes", "", *table(headers, cells)])


if __name__ == "__main__":
    print(render(run()))
