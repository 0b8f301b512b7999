"""The middleware scenario (benchmarks/middleware_chain.py) counted in CPU instructions per request:
a count the machine's load does not move, where wall-clock runs on a shared machine scatter by
±25 %. Not part of `make bench` (valgrind makes it take minutes); run it on its own:

    .venv/bin/python -m benchmarks.middleware_instructions     # MW_REQUESTS requests per phase

One `ingressctl serve` runs under callgrind (user-space instructions, the interpreter and its
libraries included; system calls are not counted) with the scenario's manifests and nginx backend;
one keep-alive client sends the same headers to both routes (the credentials and the sticky cookie),
300 warm-up requests per route, then plain, chain, plain, chain phases of MW_REQUESTS sequential
requests each, with the counters dumped after each phase.
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

from benchmarks import middleware_chain as scenario
from benchmarks.proxy_bench import free_port, start_backend

REQUESTS = int(os.environ.get("MW_REQUESTS", "1000"))
PHASES = ("plain", "chain", "plain", "chain")


def ask_head(sock: socket.socket, host: str, headers: list[str]) -> bytes:
    """One GET on the connection; the answer's head (the body is read and dropped)."""
    lines = "".join(f"{header}\r\n" for header in headers)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n{lines}\r\n".encode())
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


def connect_when_serving(
    port: int, deadline: float, proc: subprocess.Popen[bytes], host: str
) -> socket.socket:
    """A connection once the plan is loaded (`host`'s route answers 200)."""
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            if ask_head(sock, host, []).startswith(b"HTTP/1.1 200"):
                return sock
            sock.close()
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("ingressctl under callgrind did not start serving")
        time.sleep(1)


def dump_total(dump: Path) -> tuple[str, int]:
    label, total = "", 0
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("desc: Trigger:"):
            label = line.rsplit(" ", 1)[-1]
        elif line.startswith("summary:"):
            total = int(line.split()[1])
    return label, total


def require_tools() -> None:
    """valgrind, callgrind_control and nginx, or a message saying how to install them."""
    for tool in ("valgrind", "callgrind_control", "nginx"):
        if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y valgrind nginx-light")


def start_under_callgrind(work: Path, serve: list[str]) -> subprocess.Popen[bytes]:
    """`serve` (an `ingressctl serve` command line) under callgrind, dumping to work/callgrind.out.*,
    its output in work/serve.log."""
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work / 'callgrind.out'}", *serve]
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def run() -> dict[str, dict[str, float]]:
    require_tools()
    with tempfile.TemporaryDirectory(prefix="ingressctl-mwinstr-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        backend, backend_port = start_backend(work)
        web = free_port()
        manifests = scenario.write_manifests(work / "manifests", backend_port)
        config = work / "ingressctl.toml"
        config.write_text(
            f'defaultEntryPoints = ["web"]\nlogLevel = "WARNING"\n'
            f'[entryPoints.web]\naddress = "127.0.0.1:{web}"\n'
        )
        serve = [sys.executable, "-m", "ingressctl", "serve", "--config", str(config)]
        proc = start_under_callgrind(work, [*serve, "--manifests", str(manifests.parent), "--workers", "1"])
        try:
            sock = connect_when_serving(web, time.monotonic() + 600, proc, scenario.ROUTES["plain"])
            first = ask_head(sock, scenario.ROUTES["chain"], [f"Authorization: {scenario.AUTHORIZATION}"])
            cookies = [line for line in first.split(b"\r\n") if line.lower().startswith(b"set-cookie:")]
            if not first.startswith(b"HTTP/1.1 200") or not cookies:
                raise SystemExit(f"the chain route did not answer 200 with its cookie: {first!r}")
            cookie = cookies[0].decode().split(":", 1)[1].strip().partition(";")[0]
            headers = [f"Authorization: {scenario.AUTHORIZATION}", f"Cookie: {cookie}", "Accept: */*"]
            for route in scenario.ROUTES:
                for _ in range(300):
                    head = ask_head(sock, scenario.ROUTES[route], headers)
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise SystemExit(f"{route}: {head!r}")
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=False)
            for route in PHASES:
                for _ in range(REQUESTS):
                    ask_head(sock, scenario.ROUTES[route], headers)
                subprocess.run(
                    ["callgrind_control", "-d", route, str(proc.pid)], capture_output=True, check=False
                )
            sock.close()
        finally:
            proc.terminate()
            proc.wait(300)
            backend.terminate()
            backend.wait(10)
        per_route: dict[str, list[float]] = {route: [] for route in scenario.ROUTES}
        for dump in work.glob("callgrind.out.*"):
            label, total = dump_total(dump)
            if label in per_route:
                per_route[label].append(total / REQUESTS)
        if any(len(counts) != 2 for counts in per_route.values()):
            raise SystemExit(f"callgrind dumps missing: {per_route}")
        return {route: {"instructions": sum(c) / len(c)} for route, c in per_route.items()}


def render(summary: dict[str, dict[str, float]]) -> str:
    plain = summary["plain"]["instructions"]
    chain = summary["chain"]["instructions"]
    return (
        f"## Middleware chain in CPU instructions per request (callgrind, {REQUESTS} requests per phase)\n\n"
        "| plain | chain | chain minus plain | ratio |\n|---|---|---|---|\n"
        f"| {plain:,.0f} | {chain:,.0f} | {chain - plain:,.0f} | {chain / plain:.3f}× |"
    )


if __name__ == "__main__":
    print(render(run()))
