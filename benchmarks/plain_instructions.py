"""The proxy scenario's small GET (benchmarks/proxy_bench.py) counted in CPU instructions per request:
a count the machine's load does not move. Not part of `make bench` (valgrind makes it take minutes):

    .venv/bin/python -m benchmarks.plain_instructions      # PLAIN_REQUESTS requests per phase
    PLAIN_KEEP=DIR ...                                     # keep the callgrind dumps in DIR

One `ingressctl serve` runs under callgrind (user-space instructions, the interpreter and its
libraries included; system calls are not counted) with the proxy scenario's configuration (HTTP and
HTTPS entrypoints, the API, so the metrics observer is on) and nginx backend. One keep-alive client
sends wrk's request (`GET /` with only `Host: bench.local`): 300 warm-up requests, then two phases of
PLAIN_REQUESTS sequential requests each, the counters dumped after each; the figure is their mean.
The dumps (`callgrind_annotate --inclusive=yes`) show where a request's instructions go.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import proxy_bench
from benchmarks.middleware_instructions import _total
from benchmarks.proxy_bench import free_port, start_backend

REQUESTS = int(os.environ.get("PLAIN_REQUESTS", "1000"))
PHASES = ("plain1", "plain2")
REQUEST = f"GET / HTTP/1.1\r\nHost: {proxy_bench.HOST}\r\n\r\n".encode()


def _ask(sock: socket.socket) -> bytes:
    """One GET on the connection; the answer's head (the body is read and dropped)."""
    sock.sendall(REQUEST)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("ingressctl closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    return head


def _connect(port: int, deadline: float, proc: subprocess.Popen[bytes]) -> socket.socket:
    """A connection once the plan is loaded (the route answers 200)."""
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            if _ask(sock).startswith(b"HTTP/1.1 200"):
                return sock
            sock.close()
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("ingressctl under callgrind did not start serving")
        time.sleep(1)


def _serve_command(work: Path, backend_port: int) -> tuple[list[str], int]:
    """The proxy scenario's `ingressctl serve` command line (without its CPU pinning) and HTTP port."""
    http_port, https_port, api_port = free_port(), free_port(), free_port()
    manifests = work / "manifests"
    manifests.mkdir()
    (manifests / "bench.yaml").write_text(
        f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: bench, namespace: default}}
spec:
  tls: [{{hosts: [{proxy_bench.HOST}]}}]
  rules:
    - host: {proxy_bench.HOST}
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: bench, port: {{number: 80}}}}}}}}
"""
        + proxy_bench.service_manifest(backend_port)
    )
    config = work / "ingressctl.toml"
    config.write_text(
        f'defaultEntryPoints = ["http", "https"]\nlogLevel = "WARNING"\n'
        f'[entryPoints.http]\naddress = "127.0.0.1:{http_port}"\n'
        f'[entryPoints.https]\naddress = "127.0.0.1:{https_port}"\n[entryPoints.https.tls]\n'
        f'[api]\naddress = "127.0.0.1:{api_port}"\n'
    )
    cmd = [sys.executable, "-m", "ingressctl", "serve", "--config", str(config)]
    cmd += ["--manifests", str(manifests), "--workers", "1"]
    return cmd, http_port


def run() -> dict[str, dict[str, float]]:
    for tool in ("valgrind", "callgrind_control", "nginx"):
        if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y valgrind nginx-light")
    with tempfile.TemporaryDirectory(prefix="ingressctl-plaininstr-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        backend, backend_port = start_backend(work)
        serve, web = _serve_command(work, backend_port)
        out = work / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *serve]
        log = open(work / "serve.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            sock = _connect(web, time.monotonic() + 600, proc)
            for _ in range(300):
                head = _ask(sock)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"warm-up: {head!r}")
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=False)
            for phase in PHASES:
                for _ in range(REQUESTS):
                    _ask(sock)
                subprocess.run(
                    ["callgrind_control", "-d", phase, str(proc.pid)], capture_output=True, check=False
                )
            sock.close()
        finally:
            proc.terminate()
            proc.wait(300)
            backend.terminate()
            backend.wait(10)
        counts = []
        for dump in sorted(work.glob("callgrind.out.*")):
            label, total = _total(dump)
            if label in PHASES:
                counts.append(total / REQUESTS)
                keep = os.environ.get("PLAIN_KEEP")
                if keep:
                    Path(keep).mkdir(parents=True, exist_ok=True)
                    shutil.copy(dump, Path(keep) / f"callgrind.{label}")
        if len(counts) != len(PHASES):
            raise SystemExit(f"callgrind dumps missing: {counts}")
        return {"plain": {"instructions": sum(counts) / len(counts), "spread": max(counts) - min(counts)}}


def render(summary: dict[str, dict[str, float]]) -> str:
    plain = summary["plain"]
    return (
        f"## Small GET in CPU instructions per request (callgrind, {REQUESTS} requests per phase)\n\n"
        "| instructions per request | between the two phases |\n|---|---|\n"
        f"| {plain['instructions']:,.0f} | {plain['spread']:,.0f} |"
    )


if __name__ == "__main__":
    print(render(run()))
