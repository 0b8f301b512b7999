"""What a reload costs inside `serve`, and the memory a large cluster takes (1,000 and 5,000 Ingresses).

Reload: the cluster as the kubernetes provider converts it (one Service, EndpointSlice and Ingress per
app, through `object_from_dict`), one Ingress's host changed per round, then what the watch loop does:
compile with the watch loop's CompileCache (worker thread) → proxy plan (`TablePlan` from the
previous one, same thread) → swap on the event loop ("swap" is
everything from the update to the swap but compile and plan: merge, thread hand-offs, freezing the new
table out of the collector's full passes). "full compile" is the same snapshot compiled without the
cache, as at start-up. Medians of `--rounds`
(first round, a cold start, left out).

Memory: peak RSS (VmHWM from /proc) of a real `ingressctl serve --kubernetes` process that watched
5,000 Ingresses in the test API server (tests/kubeapi) and routed them, after `--settle` seconds.

    .venv/bin/python -m benchmarks.compile_swap [--sizes 1000,5000] [--rss-size 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.procstat import peak_rss_mb
from benchmarks.report import table
from benchmarks.serve_propagation import _backend, _seed, _Serve
from ingressctl.manifests import object_from_dict
from ingressctl.model import Snapshot
from ingressctl.model.config import EntryPoint, KubernetesConfig, StaticConfig
from ingressctl.providers.base import ProviderUpdate
from ingressctl.proxy import EntrypointInfo, TablePlan
from ingressctl.routing import CompileCache, RoutingTable
from ingressctl.routing import compile as compile_snapshot
from ingressctl.server.memory import ReloadCollector
from ingressctl.server.reload import CompiledConfig, Listener
from ingressctl.server.run import server_compile_options
from ingressctl.server.state import RuntimeState
from ingressctl.server.watcher import Watcher
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress, service


def _cluster(count: int) -> tuple[list[Any], list[Any], list[Any]]:
    kinds: dict[str, list[Any]] = {"Ingress": [], "Service": [], "EndpointSlice": []}
    for i in range(count):
        ns = f"ns-{i % 10}"
        for raw in (
            service(f"app-{i}", ns),
            endpoint_slice(f"app-{i}-x", f"app-{i}", ["127.0.0.1"], ns, port=8080),
            ingress(f"app-{i}", ns, host=f"app-{i}.example.test", service_name=f"app-{i}"),
        ):
            obj, _ = object_from_dict(raw)
            kinds[raw["kind"]].append(obj)
    return kinds["Ingress"], kinds["Service"], kinds["EndpointSlice"]


def _round(cluster: tuple[list[Any], list[Any], list[Any]], round_: int) -> Snapshot:
    """The cluster with one Ingress's host changed; the other objects are the same objects, as the
    provider keeps them between snapshots."""
    ingresses, services, slices = cluster
    i = (round_ * 7919) % len(ingresses)
    changed, _ = object_from_dict(
        ingress(f"app-{i}", f"ns-{i % 10}", host=f"app-{i}-r{round_}.example.test", service_name=f"app-{i}")
    )
    return Snapshot(
        ingresses=(*ingresses[:i], changed, *ingresses[i + 1 :]),
        services=tuple(services),
        endpoint_slices=tuple(slices),
    )


async def _reloads(count: int, rounds: int) -> dict[str, Any]:
    static = StaticConfig(
        entrypoints=(EntryPoint(name="web", address="127.0.0.1:0"),), kubernetes=KubernetesConfig()
    )
    options = server_compile_options(static)
    infos = [EntrypointInfo("web", "http", 80)]
    compile_ms: list[float] = []
    plan_ms: list[float] = []
    swap_ms: list[float] = []
    full_ms: list[float] = []
    live: dict[str, Any] = {}
    cache = CompileCache()

    def compile_fn(snapshot: Snapshot) -> tuple[Any, list[Any]]:
        t0 = time.perf_counter()
        compile_snapshot(snapshot, options)  # what a cold start (or a cache-less compile) costs
        full_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        table, diagnostics = compile_snapshot(snapshot, options, cache)  # what serve does
        compile_ms.append((time.perf_counter() - t0) * 1000)
        return table, list(diagnostics)

    def plan(table: Any) -> TablePlan:
        t0 = time.perf_counter()
        built = TablePlan(table, infos, static.default_entrypoints, RoutingTable, previous=live.get("plan"))
        plan_ms.append((time.perf_counter() - t0) * 1000)
        return built

    collector = ReloadCollector()

    def swap(config: CompiledConfig) -> None:
        live["plan"] = config.plan  # the swap: one reference
        collector.after_swap()  # as the server does
        live["swapped"] = time.perf_counter()

    state = RuntimeState(static)
    watcher = Watcher(state, compile_fn, [Listener("swap", swap)], plan=plan)
    cluster = _cluster(count)
    for r in range(rounds + 1):
        watcher.publish(ProviderUpdate("kubernetes", _round(cluster, r)))
        t0 = time.perf_counter()
        await watcher.apply_now()  # to the swap, then the change summary (logged, off the loop)
        total = (live["swapped"] - t0) * 1000
        swap_ms.append(total - full_ms[-1] - compile_ms[-1] - plan_ms[-1])
        assert state.table() is not None and len(state.table().routes) == count, f"round {r}"  # type: ignore[union-attr]
    del compile_ms[0], plan_ms[0], swap_ms[0], full_ms[0]
    med = statistics.median
    return {
        "ingresses": count,
        "rounds": rounds,
        "full_compile_ms": round(med(full_ms), 1),
        "compile_ms": round(med(compile_ms), 1),
        "plan_ms": round(med(plan_ms), 1),
        "swap_ms": round(med(swap_ms), 1),
        "total_ms": round(med(c + p + s for c, p, s in zip(compile_ms, plan_ms, swap_ms, strict=True)), 1),
    }


async def _serve_rss(workdir: Path, count: int, settle: float) -> dict[str, Any]:
    runner, port = await _backend()
    try:
        with KubeAPIServer(workdir / f"kubeapi-rss-{count}", bookmark_interval=30) as server:
            await asyncio.to_thread(_seed, server, count, port)
            sp = _Serve(server.write_kubeconfig())
            try:
                started = time.perf_counter()
                listening = await asyncio.to_thread(sp.wait_for, r"listening: web=(\S+)", 120)
                url = f"http://{listening.group(1)}/"
                deadline = time.monotonic() + 300
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
                    while True:
                        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                            async with session.get(
                                url, headers={"Host": f"app-{count - 1}.example.test"}
                            ) as r:
                                await r.read()
                                if r.status == 200:
                                    break
                        if time.monotonic() > deadline or sp.proc.poll() is not None:
                            raise TimeoutError("serve never routed the seeded Ingresses")
                        await asyncio.sleep(0.1)
                routed = time.perf_counter() - started
                await asyncio.sleep(settle)
                with open(f"/proc/{sp.proc.pid}/status") as f:
                    rss = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
                peak = peak_rss_mb(sp.proc.pid)
            finally:
                sp.stop()
    finally:
        await runner.cleanup()
    return {
        "ingresses": count,
        "routed_s": round(routed, 1),
        "peak_rss_mb": round(peak),
        "rss_mb": round(rss),
    }


def run(
    sizes: tuple[int, ...] = (1_000, 5_000), rounds: int = 5, rss_size: int = 5_000, settle: float = 3.0
) -> list[dict[str, Any]]:
    """Rows of kind "reload" (one per size) and one of kind "memory" (rss_size; 0 skips it)."""
    rows: list[dict[str, Any]] = []
    for size in sizes:
        rows.append({"kind": "reload", **asyncio.run(_reloads(size, rounds))})
    if rss_size:
        with tempfile.TemporaryDirectory(prefix="ingressctl-compile-swap-") as tmp:
            rows.append({"kind": "memory", **asyncio.run(_serve_rss(Path(tmp), rss_size, settle))})
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["A reload inside `serve`: compile + proxy plan (worker thread) + swap (event loop), medians", ""]
    lines += table(
        ("Ingresses", "full compile (cold)", "compile (reload, cached)", "plan", "swap", "total"),
        (
            (
                r["ingresses"],
                *(
                    f"{r[key]} ms"
                    for key in ("full_compile_ms", "compile_ms", "plan_ms", "swap_ms", "total_ms")
                ),
            )
            for r in rows
            if r["kind"] == "reload"
        ),
    )
    memory = [r for r in rows if r["kind"] == "memory"]
    if memory:
        lines += [
            "",
            "`serve --kubernetes` holding the cluster (Traefik 3.7 peak RSS idle, one route: 114 MB)",
            "",
        ]
        lines += table(
            ("Ingresses", "start → all routed", "peak RSS (VmHWM)", "RSS after settling"),
            (
                (r["ingresses"], f"{r['routed_s']} s", f"{r['peak_rss_mb']} MB", f"{r['rss_mb']} MB")
                for r in memory
            ),
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rss-size", type=int, default=5_000, help="0 skips the serve memory run")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(tuple(int(s) for s in args.sizes.split(",")), args.rounds, args.rss_size, args.settle)
    print(json.dumps(rows, indent=2) if args.json else render(rows))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
