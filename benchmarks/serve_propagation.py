"""Ingress change in the API server → first request routed by `ingressctl serve` (100 and 1,000 Ingresses).

End to end, as a user sees it: the real `ingressctl serve --kubernetes` subprocess watches the test API
server (tests/kubeapi, TLS, the official client); every Ingress routes to one real loopback backend.
Each sample renames one Ingress's host through the API server and polls serve (keep-alive, every 1 ms)
with the new Host until it answers 200 from the backend: API write + watch event + conversion + Snapshot
+ the watch loop's settle window (5 ms) + compile + proxy plan + table swap + request. Samples are
independent edits, `--gap` seconds apart (default 0.25 s): the watch loop coalesces changes that follow
each other within `throttleDuration` (50 ms) by design, so `--gap 0` measures a steady stream of changes
instead (each then waits for the quiet period). Traefik takes 1.4–2.2 s for the same (docs/performance.md).

    .venv/bin/python -m benchmarks.serve_propagation [--events 50] [--sizes 100,1000] [--gap 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from benchmarks.report import table
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress, service

ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class _Serve:
    """`ingressctl serve` in a subprocess; stderr collected by a thread."""

    def __init__(self, kubeconfig: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingressctl",
                "serve",
                "--kubernetes",
                "--kubeconfig",
                str(kubeconfig),
                "--entrypoint",
                "web=127.0.0.1:0",
                "--no-leader-election",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := regex.search(line):
                    return m
            if self.proc.poll() is not None:
                raise RuntimeError("serve exited:\n" + "\n".join(self.lines[-20:]))
            time.sleep(0.01)
        raise TimeoutError(f"serve: no {pattern!r} within {timeout}s:\n" + "\n".join(self.lines[-20:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def _backend() -> tuple[web.AppRunner, int]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=request.headers.get("Host", ""))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


def _seed(server: KubeAPIServer, count: int, port: int) -> None:
    for i in range(count):
        ns = f"ns-{i % 10}"
        server.apply(service(f"app-{i}", ns))
        server.apply(endpoint_slice(f"app-{i}-x", f"app-{i}", ["127.0.0.1"], ns, port=port))
        server.apply(ingress(f"app-{i}", ns, host=f"app-{i}.example.test", service_name=f"app-{i}"))


async def _measure(workdir: Path, count: int, events: int, gap: float = 0.25) -> dict[str, Any]:
    runner, port = await _backend()
    try:
        with KubeAPIServer(workdir / f"kubeapi-{count}", bookmark_interval=30) as server:
            await asyncio.to_thread(_seed, server, count, port)
            sp = _Serve(server.write_kubeconfig())
            try:
                started = time.perf_counter()
                listening = await asyncio.to_thread(sp.wait_for, r"listening: web=(\S+)", 120)
                address = listening.group(1)
                await asyncio.to_thread(sp.wait_for, r"configuration applied", 300)
                url = f"http://{address}/"
                timeout = aiohttp.ClientTimeout(total=5)
                async with aiohttp.ClientSession(timeout=timeout) as session:

                    async def status(host: str) -> int:
                        async with session.get(url, headers={"Host": host}) as resp:
                            await resp.read()
                            return resp.status

                    deadline = time.monotonic() + 120
                    while await status(f"app-{count - 1}.example.test") != 200:
                        if time.monotonic() > deadline:
                            raise TimeoutError("serve never routed the seeded Ingresses")
                        await asyncio.sleep(0.05)
                    first_ready = time.perf_counter() - started
                    latencies: list[float] = []
                    for n in range(events):
                        await asyncio.sleep(gap)
                        i = (n * 7919) % count
                        host = f"app-{i}-v{n}.example.test"
                        obj = ingress(f"app-{i}", f"ns-{i % 10}", host=host, service_name=f"app-{i}")
                        t0 = time.perf_counter()
                        await asyncio.to_thread(server.apply, obj)
                        while await status(host) != 200:
                            if time.perf_counter() - t0 > 30:
                                raise TimeoutError(f"{host} not routed within 30 s")
                            await asyncio.sleep(0.001)
                        latencies.append((time.perf_counter() - t0) * 1000)
            finally:
                sp.stop()
    finally:
        await runner.cleanup()
    return {
        "ingresses": count,
        "events": events,
        "gap_s": gap,
        "first_routed_s": round(first_ready, 2),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
    }


def run(sizes: tuple[int, ...] = (100, 1_000), events: int = 50, gap: float = 0.25) -> list[dict[str, Any]]:
    """One row per size: first-routed time after start, and change→routed latency percentiles."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="ingressctl-serve-bench-") as tmp:
        for size in sizes:
            rows.append(asyncio.run(_measure(Path(tmp), size, events, gap)))
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = ["Ingress change in the API server → first request routed by `serve` (Traefik: 1.4–2.2 s)", ""]
    lines += table(
        ("Ingresses", "changes (gap)", "start → all routed", "p50", "p99", "max"),
        (
            (
                r["ingresses"],
                f"{r['events']} ({r.get('gap_s', 0)} s)",
                f"{r['first_routed_s']} s",
                *(f"{r[key]} ms" for key in ("p50_ms", "p99_ms", "max_ms")),
            )
            for r in rows
        ),
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between changes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(tuple(int(s) for s in args.sizes.split(",")), args.events, args.gap)
    print(json.dumps(rows, indent=2) if args.json else render(rows))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
