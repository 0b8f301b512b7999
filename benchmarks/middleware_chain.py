"""A route carrying five middlewares vs the plain route, one ingressctl, the same run.

The chain route (host chain.bench.local, entrypoint `chain` with `compress = true`) has an ip
allow-list admitting 127.0.0.1, a rate limit whose budget wrk never reaches, an ssl-redirect that
does not fire (wrk's X-Forwarded-Ssl counts as TLS through ssl-proxy-headers), response headers
(custom + security headers) and request headers; the compressor runs but the 100-byte answer stays
under its minimum. The plain route (plain.bench.local, entrypoint `web`) has none. wrk sends the
same headers to both. Target (issue 15): the chain within 15 % of the plain route's requests/s and
CPU per request. Pinning as in proxy_bench: wrk and nginx on CPU 0, ingressctl on CPU 1.

    .venv/bin/python -m benchmarks middleware       # BENCH_DURATION s per run, BENCH_ROUNDS rounds
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.procstat import busy_percent, core_times
from benchmarks.proxy_bench import Proxy, free_port, parse_wrk, service_manifest, start_backend, wait_http

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 64
ROUTES = {"plain": "plain.bench.local", "chain": "chain.bench.local"}
HEADERS = ("X-Forwarded-Ssl: on", "Accept: */*")
T = "traefik.ingress.kubernetes.io/"
V1 = "ingress.kubernetes.io/"
CHAIN_ANNOTATIONS = {
    V1 + "whitelist-source-range": "127.0.0.1/32",
    T + "rate-limit": "extractorFunc: client.ip\nrateset:\n  bench:\n    period: 1s\n    average: 100000000\n"
    "    burst: 100000000\n",
    V1 + "ssl-redirect": "true",
    V1 + "ssl-proxy-headers": "X-Forwarded-Ssl: on",
    V1 + "custom-response-headers": "X-Served-By: ingressctl||X-Powered-By:",
    V1 + "frame-deny": "true",
    V1 + "content-type-nosniff": "true",
    V1 + "custom-request-headers": "X-Env: bench",
    T + "router.entrypoints": "chain",
}
# The chain `routes` must show for the figure to mean anything.
EXPECTED_CHAIN = ["ip-allow-list", "rate-limit", "response-headers", "redirect->https", "request-headers"]


def _ingress(name: str, host: str, annotations: dict[str, str]) -> str:
    import json

    lines = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in annotations.items())
    meta = f"  annotations:\n{lines}" if lines else ""
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
{meta}spec:
  rules:
    - host: {host}
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: bench, port: {{number: 80}}}}}}}}
"""


def write_manifests(directory: Path, backend_port: int) -> Path:
    directory.mkdir()
    plain_annotations = {T + "router.entrypoints": "web"}
    docs = [
        _ingress("plain", ROUTES["plain"], plain_annotations),
        _ingress("chain", ROUTES["chain"], CHAIN_ANNOTATIONS),
        service_manifest(backend_port).removeprefix("---\n"),
    ]
    path = directory / "bench.yaml"
    path.write_text("---\n".join(docs))
    return path


def check_chain(manifests: Path, config: Path) -> None:
    import json

    cmd = [sys.executable, "-m", "ingressctl", "routes", str(manifests), "--config", str(config)]
    out = subprocess.run([*cmd, "--format", "json"], capture_output=True, text=True, check=True).stdout
    chains = {r["host"]: r["middlewares"] for r in json.loads(out)["routes"]}
    if chains != {ROUTES["plain"]: [], ROUTES["chain"]: EXPECTED_CHAIN}:
        raise SystemExit(f"the benchmark's routes are not what it measures: {chains}")


def start(work: Path, backend_port: int) -> tuple[Proxy, int]:
    """ingressctl on CPU 1: (the proxy with `web` as http_port, the `chain` entrypoint's port)."""
    web, chain = free_port(), free_port()
    manifests = write_manifests(work / "manifests", backend_port)
    config = work / "ingressctl.toml"
    config.write_text(
        f"""defaultEntryPoints = ["web"]
logLevel = "WARNING"
[entryPoints.web]
address = "127.0.0.1:{web}"
[entryPoints.chain]
address = "127.0.0.1:{chain}"
compress = true
"""
    )
    check_chain(manifests, config)
    cmd = ["taskset", "-c", "1", sys.executable, "-m", "ingressctl", "serve"]
    cmd += ["--config", str(config), "--manifests", str(manifests.parent), "--workers", "1"]
    log = open(work / "ingressctl.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{web}/", host=ROUTES["plain"])
    _wait_chain(f"http://127.0.0.1:{chain}/")
    return Proxy("ingressctl", proc, web, chain), chain


def _wait_chain(url: str, timeout: float = 20.0) -> None:
    """200 from the chain route, sent as wrk sends it (X-Forwarded-Ssl: the redirect stays off)."""
    headers = {"Host": ROUTES["chain"], **dict(h.split(": ", 1) for h in HEADERS)}
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def run_wrk(proxy: Proxy, route: str, duration: float) -> dict[str, float]:
    port = proxy.https_port if route == "chain" else proxy.http_port
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency"]
    for header in (f"Host: {ROUTES[route]}", *HEADERS):
        cmd += ["-H", header]
    cmd.append(f"http://127.0.0.1:{port}/")
    cpu0, cores0 = proxy.cpu(), core_times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    cpu1, cores1 = proxy.cpu(), core_times()
    result = parse_wrk(out)
    result["proxy_core_busy"] = busy_percent(cores0, cores1, 1)
    result["cpu_us_per_req"] = (cpu1 - cpu0) / max(result["requests"], 1) * 1e6
    if not result["requests"] or result["errors"]:
        print(f"warning: {route}: {result['errors']:.0f} errors\n{out}", file=sys.stderr)
    return result


def run() -> dict[str, dict[str, float]]:
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk util-linux nginx-light")
    with tempfile.TemporaryDirectory(prefix="ingressctl-chainbench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        backend, backend_port = start_backend(work)
        proxy: Proxy | None = None
        try:
            proxy, _ = start(work, backend_port)
            for route in ROUTES:
                run_wrk(proxy, route, 1)  # warm-up
            results: dict[str, list[dict[str, float]]] = {route: [] for route in ROUTES}
            for round_ in range(ROUNDS):  # back to back, alternating which goes first
                for route in ROUTES if round_ % 2 == 0 else list(ROUTES)[::-1]:
                    results[route].append(run_wrk(proxy, route, DURATION))
            summary = {
                route: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                for route, runs in results.items()
            }
            paired = [c["rps"] / p["rps"] for c, p in zip(results["chain"], results["plain"], strict=True)]
            summary["rounds"] = {"rps_ratio_min": min(paired), "rps_ratio_max": max(paired)}
            return summary
        finally:
            if proxy is not None:
                proxy.stop()
            backend.terminate()
            backend.wait(10)


def render(summary: dict[str, dict[str, float]]) -> str:
    plain, chain = summary["plain"], summary["chain"]
    lines = [
        f"## Middleware chain: five middlewares vs the plain route (medians of {ROUNDS} rounds of "
        f"{DURATION:g} s, one core)",
        "",
        "| metric | plain | chain | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for key, unit, target in (
        ("rps", "req/s", "≥ 0.85×"),
        ("cpu_us_per_req", "CPU µs/req", "≤ 1.15×"),
        ("p50_ms", "p50 ms", ""),
        ("p99_ms", "p99 ms", ""),
        ("proxy_core_busy", "proxy core busy %", ""),
    ):
        a, b = plain[key], chain[key]
        lines.append(
            f"| {unit} | {a:,.1f} | {b:,.1f} | {b / a:.2f}× | {target} |" if a else f"| {unit} | – |"
        )
    rounds = summary["rounds"]
    lines.append("")
    lines.append(
        f"Each round's req/s ratio: {rounds['rps_ratio_min']:.2f}–{rounds['rps_ratio_max']:.2f}×. "
        f"Errors: plain {plain['errors']:.0f}, chain {chain['errors']:.0f}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(run()))
