"""Kubernetes event → published Snapshot latency, with 100 and 1,000 Ingresses.

The provider runs as in production (official client, TLS, threads per watch stream) against the test
API server (tests/kubeapi). Each sample changes one Ingress's host through the server and times until
the provider publishes a Snapshot that holds the new host: server write + watch stream + JSON parse +
conversion (manifests.object_from_dict) + queue hop to the event loop + whole-Snapshot rebuild.
The server's compile and table swap come after this and are measured in compile_bench.

    .venv/bin/python -m benchmarks.kube_propagation [--events 200] [--sizes 100,1000]
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

from benchmarks.report import table
from ingressctl.model import Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.base import ProviderStatus, ProviderUpdate
from ingressctl.providers.kubernetes import KubernetesProvider, Timing
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress, service


def _seed(server: KubeAPIServer, count: int) -> None:
    for i in range(count):
        ns = f"ns-{i % 10}"
        server.apply(ingress(f"app-{i}", ns, host=f"app-{i}.example.test", service_name=f"app-{i}"))
        server.apply(service(f"app-{i}", ns))
        server.apply(endpoint_slice(f"app-{i}-x", f"app-{i}", [f"10.{i // 250}.{i % 250}.1"], ns))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _measure(server: KubeAPIServer, count: int, events: int) -> dict[str, Any]:
    config = KubernetesConfig(kubeconfig=str(server.write_kubeconfig()))
    provider = KubernetesProvider(config, timing=Timing(watch_timeout=600, stall_timeout=120))
    waiting: dict[str, tuple[asyncio.Event, list[float]]] = {}
    snapshots = 0
    # Building the client's API classes costs about a second once per process (pydantic models);
    # done first, so first_snapshot_s is the LIST of every object and its conversion.
    await asyncio.to_thread(provider.api)
    build_started = time.perf_counter()
    first = asyncio.Event()

    def hosts_of(snapshot: Snapshot) -> set[str]:
        return {r.host or "" for i in snapshot.ingresses for r in i.rules}

    latest: list[Snapshot] = []

    def provider_snapshot_ok(check: Any) -> bool:
        return bool(latest) and bool(check(latest[-1]))

    def publish(update: ProviderUpdate) -> None:
        nonlocal snapshots
        now = time.perf_counter()
        snapshots += 1
        latest[:] = [update.snapshot]
        first.set()
        if waiting:
            present = hosts_of(update.snapshot)
            for host, (event, stamp) in list(waiting.items()):
                if host in present:
                    stamp.append(now)
                    event.set()
                    del waiting[host]

    def report(status: ProviderStatus) -> None:
        pass

    task = asyncio.create_task(provider.run(publish, report))
    try:
        await asyncio.wait_for(first.wait(), 120)
        first_sync = time.perf_counter() - build_started
        latencies: list[float] = []
        for n in range(events):
            i = (n * 7919) % count
            host = f"app-{i}-v{n}.example.test"
            event: asyncio.Event = asyncio.Event()
            stamp: list[float] = []
            waiting[host] = (event, stamp)
            obj = ingress(f"app-{i}", f"ns-{i % 10}", host=host, service_name=f"app-{i}")
            start = time.perf_counter()
            await asyncio.to_thread(server.apply, obj)
            await asyncio.wait_for(event.wait(), 30)
            latencies.append((stamp[0] - start) * 1000)
        # A burst: every Ingress changes at once (a rollout, a relabel); how long until the provider has
        # published a Snapshot holding all of them, and in how many Snapshots.
        marker = "burst"
        burst = [
            ingress(
                f"app-{i}", f"ns-{i % 10}", host=f"app-{i}-{marker}.example.test", service_name=f"app-{i}"
            )
            for i in range(count)
        ]
        done = asyncio.Event()
        before = snapshots
        burst_end: list[float] = []

        def all_changed(snapshot: Snapshot) -> bool:
            return all(marker in (r.host or "") for i in snapshot.ingresses for r in i.rules)

        watcher = asyncio.create_task(_until(lambda: provider_snapshot_ok(all_changed), done, burst_end))
        start = time.perf_counter()
        await asyncio.to_thread(lambda: [server.apply(o) for o in burst])
        applied = time.perf_counter() - start
        await asyncio.wait_for(done.wait(), 120)
        watcher.cancel()
        burst_s = burst_end[0] - start
        burst_snapshots = snapshots - before
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return {
        "ingresses": count,
        "objects": count * 3,
        "events": events,
        "first_snapshot_s": round(first_sync, 3),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(_percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
        "burst_changes": count,
        "burst_server_apply_s": round(applied, 3),
        "burst_to_snapshot_s": round(burst_s, 3),
        "burst_snapshots": burst_snapshots,
    }


async def _until(check: Any, done: asyncio.Event, stamp: list[float]) -> None:
    while not check():
        await asyncio.sleep(0.001)
    stamp.append(time.perf_counter())
    done.set()


def measure(count: int, events: int = 200) -> dict[str, Any]:
    """Latency figures for `count` Ingresses (each with a Service and an EndpointSlice)."""
    with (
        tempfile.TemporaryDirectory(prefix="ingressctl-kube-bench-") as tmp,
        KubeAPIServer(Path(tmp), bookmark_interval=60) as server,
    ):
        _seed(server, count)
        return asyncio.run(_measure(server, count, events))


def run(sizes: tuple[int, ...] = (100, 1_000), events: int = 200) -> list[dict[str, Any]]:
    return [measure(size, events) for size in sizes]


def render(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        table(
            ("Ingresses", "events", "first snapshot", "p50", "p99", "max"),
            (
                (
                    r["ingresses"],
                    r["events"],
                    f"{r['first_snapshot_s']} s",
                    *(f"{r[key]} ms" for key in ("p50_ms", "p99_ms", "max_ms")),
                )
                for r in rows
            ),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(tuple(int(s) for s in args.sizes.split(",")), args.events)
    print(json.dumps(rows, indent=2) if args.json else render(rows))


if __name__ == "__main__":
    main()
