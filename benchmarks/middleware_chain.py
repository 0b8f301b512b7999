"""A route carrying the five middlewares of issue 15 vs the plain route, one ingressctl, the same run.

The chain route (host chain.bench.local) has custom request and response headers, security headers
(frame-deny, nosniff, XSS filter, a forced HSTS header), a rate limit whose budget wrk never reaches,
basic auth (a bcrypt htpasswd Secret; wrk sends valid credentials, and the verified check is
remembered, so bcrypt runs once, not per request) and a sticky cookie (affinity; wrk sends the cookie
the first answer set). The plain route (plain.bench.local) has none. Both are on the same entrypoint
with the same options, and wrk sends the same headers to both. Target (issue 15): the chain within
15 % of the plain route's requests/s and CPU per request. Pinning as in proxy_bench: wrk and nginx on
CPU 0, ingressctl on CPU 1.

    .venv/bin/python -m benchmarks middleware       # BENCH_DURATION s per run, BENCH_ROUNDS rounds
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from benchmarks.procstat import busy_percent, core_times
from benchmarks.proxy_bench import Proxy, free_port, parse_wrk, service_manifest, start_backend, wait_http

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 64
ROUTES = {"plain": "plain.bench.local", "chain": "chain.bench.local"}
USER, PASSWORD = "bench", "bench password"
COOKIE = "bench_route"
# Sent to both routes: the credentials and the sticky cookie (its value filled in once the chain
# route has set it), so the two differ only in what the proxy does.
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
T = "traefik.ingress.kubernetes.io/"
V1 = "ingress.kubernetes.io/"
CHAIN_ANNOTATIONS = {
    V1 + "custom-request-headers": "X-Env: bench||X-Debug:",
    V1 + "custom-response-headers": "X-Served-By: ingressctl||X-Powered-By:",
    V1 + "frame-deny": "true",
    V1 + "content-type-nosniff": "true",
    V1 + "browser-xss-filter": "true",
    V1 + "hsts-max-age": "31536000",
    V1 + "hsts-include-subdomains": "true",
    V1 + "force-hsts": "true",
    T + "rate-limit": "extractorFunc: client.ip\nrateset:\n  bench:\n    period: 1s\n    average: 100000000\n"
    "    burst: 100000000\n",
    V1 + "auth-type": "basic",
    V1 + "auth-secret": "bench-users",
    T + "affinity": "true",
    T + "session-cookie-name": COOKIE,
}
# The chain `routes` must show for the figure to mean anything.
EXPECTED_CHAIN = [
    "rate-limit",
    "response-headers",
    "basic-auth",
    "request-headers",
    f"upstream-policy(sticky:{COOKIE},round-robin)",
]


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


def _secret() -> str:
    import bcrypt

    # bcrypt at Apache's default cost: what a real htpasswd -B Secret holds, slow enough (tens of
    # ms) that verifying it per request would show at once.
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    data = base64.b64encode(f"{USER}:{hashed}\n".encode()).decode()
    meta = "{name: bench-users, namespace: default}"
    return f"apiVersion: v1\nkind: Secret\nmetadata: {meta}\ndata: {{auth: {data}}}\n"


def write_manifests(directory: Path, backend_port: int) -> Path:
    directory.mkdir()
    docs = [
        _ingress("plain", ROUTES["plain"], {}),
        _ingress("chain", ROUTES["chain"], CHAIN_ANNOTATIONS),
        _secret(),
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


def start(work: Path, backend_port: int) -> tuple[Proxy, list[str]]:
    """ingressctl on CPU 1, both routes on entrypoint `web` (its port: http_port); the headers wrk
    sends to either route (the credentials and the sticky cookie the chain route set)."""
    web = free_port()
    manifests = write_manifests(work / "manifests", backend_port)
    config = work / "ingressctl.toml"
    config.write_text(
        f"""defaultEntryPoints = ["web"]
logLevel = "WARNING"
[entryPoints.web]
address = "127.0.0.1:{web}"
"""
    )
    check_chain(manifests, config)
    cmd = ["taskset", "-c", "1", sys.executable, "-m", "ingressctl", "serve"]
    cmd += ["--config", str(config), "--manifests", str(manifests.parent), "--workers", "1"]
    log = open(work / "ingressctl.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    proxy = Proxy("ingressctl", proc, web, web)
    wait_http(f"http://127.0.0.1:{web}/", host=ROUTES["plain"])
    return proxy, _client_headers(f"http://127.0.0.1:{web}/")


def _client_headers(url: str) -> list[str]:
    """What wrk sends: valid credentials and the sticky cookie, taken from the chain route's first
    200 (which also proves the chain lets such a request through and sets the cookie)."""
    request = urllib.request.Request(url, headers={"Host": ROUTES["chain"], "Authorization": AUTHORIZATION})
    with urllib.request.urlopen(request, timeout=10) as resp:
        cookie = resp.headers.get("Set-Cookie", "")
        if resp.status != 200 or not cookie.startswith(COOKIE + "="):
            raise SystemExit(f"the chain route answered {resp.status} without its sticky cookie: {cookie!r}")
    headers = [f"Authorization: {AUTHORIZATION}", "Cookie: " + cookie.partition(";")[0], "Accept: */*"]
    request = urllib.request.Request(
        url, headers={"Host": ROUTES["chain"], **dict(h.split(": ", 1) for h in headers)}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        if resp.headers.get("Set-Cookie") is not None or resp.headers.get("X-Frame-Options") != "DENY":
            raise SystemExit("the chain route did not keep the client pinned or lost its headers")
    return headers


def run_wrk(proxy: Proxy, route: str, duration: float, headers: list[str]) -> dict[str, float]:
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "--latency"]
    for header in (f"Host: {ROUTES[route]}", *headers):
        cmd += ["-H", header]
    cmd.append(f"http://127.0.0.1:{proxy.http_port}/")
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
            proxy, headers = start(work, backend_port)
            for route in ROUTES:
                run_wrk(proxy, route, 1, headers)  # warm-up
            results: dict[str, list[dict[str, float]]] = {route: [] for route in ROUTES}
            for round_ in range(ROUNDS):  # back to back, alternating which goes first
                for route in ROUTES if round_ % 2 == 0 else list(ROUTES)[::-1]:
                    results[route].append(run_wrk(proxy, route, DURATION, headers))
            summary = {
                route: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                for route, runs in results.items()
            }
            pairs = list(zip(results["chain"], results["plain"], strict=True))
            paired = [c["rps"] / p["rps"] for c, p in pairs]
            cpu_paired = [c["cpu_us_per_req"] / p["cpu_us_per_req"] for c, p in pairs]
            summary["rounds"] = {"rps_ratio_min": min(paired), "rps_ratio_max": max(paired)}
            # Each round's ratios, in order (rps_ratio_1, cpu_ratio_1, ...): the spread is the news
            # on a shared machine.
            for n, (rps, cpu) in enumerate(zip(paired, cpu_paired, strict=True), 1):
                summary["rounds"][f"rps_ratio_{n}"] = rps
                summary["rounds"][f"cpu_ratio_{n}"] = cpu
            summary["rounds"]["load_average"] = os.getloadavg()[0]
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
    per_round = [
        f"{rounds[f'rps_ratio_{n}']:.2f}× req/s, {rounds[f'cpu_ratio_{n}']:.2f}× CPU/req"
        for n in range(1, ROUNDS + 1)
        if f"rps_ratio_{n}" in rounds
    ]
    lines.append(
        f"Rounds (chain/plain): {'; '.join(per_round)}. Load average at the end: "
        f"{rounds['load_average']:.1f}."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(run()))
