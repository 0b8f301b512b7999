"""HTTP/2 over TLS: ingressctl vs Traefik with h2load (small GETs, 16 connections × 10 streams).

The same layout as benchmarks.proxy_bench (one nginx backend and h2load on CPU 0, each proxy alone on
CPU 1 with one worker), the same route, run back to back in each round so both see the same machine.
The issue's first target is 0.5× Traefik's requests/s (pure-Python framing); CPU per request is
printed too, as it moves less with the shared machine's load.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks.procstat import busy_percent, core_times
from benchmarks.proxy_bench import HOST, Proxy, start_backend, start_ingressctl, start_traefik

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 16
STREAMS = 10


def parse_h2load(text: str) -> dict[str, float]:
    """Requests/s, succeeded and failed requests, and the protocol h2load negotiated."""
    finished = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text)
    counts = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", text)
    if finished is None or counts is None:
        raise RuntimeError(f"unexpected h2load output:\n{text}")
    return {
        "rps": float(finished.group(1)),
        "requests": float(counts.group(2)),
        "errors": float(counts.group(3)),
        "h2": 1.0 if "Application protocol: h2" in text else 0.0,
    }


def run_h2load(proxy: Proxy, duration: float) -> dict[str, float]:
    cmd = [
        "taskset", "-c", "0", "h2load",
        "-t1", f"-c{CONNECTIONS}", f"-m{STREAMS}", f"-D{duration:g}",
        "-H", f":authority: {HOST}",
        f"https://127.0.0.1:{proxy.https_port}/",
    ]  # fmt: skip
    cpu0, cores0 = proxy.cpu(), core_times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    cpu1, cores1 = proxy.cpu(), core_times()
    result = parse_h2load(out)
    result["cpu_us_per_req"] = (cpu1 - cpu0) / max(result["requests"], 1) * 1e6
    result["load_core_busy"] = busy_percent(cores0, cores1, 0)
    result["proxy_core_busy"] = busy_percent(cores0, cores1, 1)
    return result


def run() -> dict[str, dict[str, float]]:
    for tool in ("h2load", "taskset", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y nghttp2-client util-linux nginx-light")
    with tempfile.TemporaryDirectory(prefix="ingressctl-h2bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        backend, backend_port = start_backend(work)
        proxies: list[Proxy] = []
        try:
            (work / "i").mkdir()
            (work / "t").mkdir()
            proxies = [start_ingressctl(work / "i", backend_port), start_traefik(work / "t", backend_port)]
            runs: dict[str, list[dict[str, float]]] = {p.name: [] for p in proxies}
            for proxy in proxies:
                run_h2load(proxy, 1)  # warm-up
            for round_ in range(ROUNDS):
                for proxy in proxies if round_ % 2 == 0 else proxies[::-1]:
                    runs[proxy.name].append(run_h2load(proxy, DURATION))
            return {
                name: {key: statistics.median(r[key] for r in results) for key in results[0]}
                for name, results in runs.items()
            }
        finally:
            for proxy in proxies:
                proxy.stop()
            backend.terminate()
            backend.wait(10)


def render(summary: dict[str, dict[str, float]]) -> str:
    me, ref = summary["ingressctl"], summary["traefik"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "–"

    lines = [
        f"## HTTP/2 over TLS: ingressctl vs Traefik (h2load, {CONNECTIONS} connections × {STREAMS} streams, "
        f"medians of {ROUNDS} rounds of {DURATION:g} s, one core each)",
        "",
        "| metric | ingressctl | Traefik | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for key, label, target in (
        ("rps", "req/s", "≥ 0.5×"),
        ("cpu_us_per_req", "CPU µs/req", ""),
        ("proxy_core_busy", "proxy core busy %", ""),
        ("load_core_busy", "h2load+nginx core busy %", ""),
        ("errors", "failed requests", "0"),
    ):
        mine, theirs = me[key], ref[key]
        lines.append(f"| {label} | {mine:,.1f} | {theirs:,.1f} | {ratio(mine, theirs)} | {target} |")
    if not (me["h2"] and ref["h2"]):
        lines.append("")
        lines.append("warning: h2load did not negotiate h2 with every proxy (see Application protocol)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(run()))
