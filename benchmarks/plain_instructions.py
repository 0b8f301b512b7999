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
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import proxy_bench
from benchmarks.middleware_instructions import (
    ask_head,
    connect_when_serving,
    dump_total,
    require_tools,
    start_under_callgrind,
)
from benchmarks.proxy_bench import ingressctl_command, start_backend

REQUESTS = int(os.environ.get("PLAIN_REQUESTS", "1000"))
PHASES = ("plain1", "plain2")


def run() -> dict[str, dict[str, float]]:
    require_tools()
    with tempfile.TemporaryDirectory(prefix="ingressctl-plaininstr-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        backend, backend_port = start_backend(work)
        serve, web, _ = ingressctl_command(work, backend_port)
        proc = start_under_callgrind(work, serve)
        try:
            sock = connect_when_serving(web, time.monotonic() + 600, proc, proxy_bench.HOST)
            for _ in range(300):
                head = ask_head(sock, proxy_bench.HOST, [])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise SystemExit(f"warm-up: {head!r}")
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=False)
            for phase in PHASES:
                for _ in range(REQUESTS):
                    ask_head(sock, proxy_bench.HOST, [])
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
            label, total = dump_total(dump)
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
