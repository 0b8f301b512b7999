"""What TLS costs per request on this machine in the smallest uvloop server: the floor under ingressctl.

    .venv/bin/python -m benchmarks.tls_floor         # BENCH_ROUNDS rounds of BENCH_DURATION s per server

A server of a few lines (an asyncio.Protocol answering every request head with a fixed 200 and a
100-byte body, as the proxy benchmark's nginx does) listens three times, all with `serve`'s own server
context (ingressctl.tls.contexts):
- plain HTTP on uvloop's TCP transport;
- TLS on uvloop's SSL transport, as `serve` runs today: uvloop reads the socket into its buffer,
  copies the records into a MemoryBIO, has the ssl module decrypt them into a new bytes object, and
  encrypts answers into a second MemoryBIO that it reads out and writes to the socket;
- TLS on a socket BIO (`SocketTLS` below, a sketch: no flow control, no partial writes, enough for
  wrk's small answers): OpenSSL reads and writes the socket itself, woken by loop.add_reader.
wrk and the server are pinned as in the proxy benchmark (wrk on CPU 0, the server on CPU 1), 64
keep-alive connections, the servers in turn each round. TLS minus plain is what a request pays for TLS
with no proxy around it; ingressctl's own TLS-minus-plain difference (`python -m benchmarks proxy`)
above that floor is what the proxy's size adds (its code and data evicted from the caches and back).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.procstat import cpu_seconds
from benchmarks.proxy_bench import free_port

DURATION = float(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
# name → scheme, in the order of the ports `serve` takes.
SERVERS = {"plain": "http", "uvloop TLS": "https", "socket-BIO TLS": "https"}
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + b"x" * 100


class Answer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if data.endswith(b"\r\n\r\n"):  # wrk sends each GET in one piece
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


class SocketTLS:
    """A TLS connection whose records OpenSSL reads from and writes to the socket itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ctx: ssl.SSLContext) -> None:
        self.loop, self.fd = loop, sock.fileno()
        self.tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        # The C methods behind SSLSocket.recv and send (each adds two Python frames to a record).
        inner = self.tls._sslobj  # type: ignore[attr-defined]
        self.recv, self.send = inner.read, inner.write
        self.protocol = Answer()
        loop.add_reader(self.fd, self._handshake)

    def _handshake(self) -> None:
        try:
            self.tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError:
            self.close()
            return
        self.loop.remove_reader(self.fd)
        self.loop.add_reader(self.fd, self._read)
        self.protocol.connection_made(self)  # type: ignore[arg-type]

    def _read(self) -> None:
        try:
            data = self.recv(65536)
        except ssl.SSLWantReadError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self.protocol.data_received(data)

    def write(self, data: bytes) -> None:
        self.send(data)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        self.tls.close()


def serve(ports: list[int], cert: str, key: str) -> None:
    """The servers (child process): plain, uvloop TLS, socket-BIO TLS on `ports`; run until killed."""
    import uvloop

    from ingressctl.tls.contexts import server_context

    async def main() -> None:
        ctx = server_context()
        ctx.load_cert_chain(cert, key)
        loop = asyncio.get_running_loop()
        await loop.create_server(Answer, "127.0.0.1", ports[0])
        await loop.create_server(Answer, "127.0.0.1", ports[1], ssl=ctx)
        listener = socket.create_server(("127.0.0.1", ports[2]), backlog=512)
        listener.setblocking(False)

        def accept() -> None:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            SocketTLS(loop, sock, ctx)

        loop.add_reader(listener.fileno(), accept)
        print("ready", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


def _wrk(url: str, pid: int) -> float:
    """CPU µs per request of `pid` over one wrk run against `url`."""
    before = cpu_seconds(pid)
    cmd = ["taskset", "-c", "0", "wrk", "-t1", "-c64", f"-d{DURATION:g}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 60, check=True).stdout
    after = cpu_seconds(pid)
    found = re.search(r"(\d+) requests in", out)
    requests = int(found.group(1)) if found else 0
    return (after - before) / max(requests, 1) * 1e6


def run() -> dict[str, list[float]]:
    from ingressctl.tls.selfsigned import generate_default_certificate

    with tempfile.TemporaryDirectory(prefix="ingressctl-tlsfloor-") as tmp:
        cert_pem, key_pem = generate_default_certificate()
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        ports = [free_port() for _ in SERVERS]
        cmd = ["taskset", "-c", "1", sys.executable, "-m", "benchmarks.tls_floor", "--serve"]
        cmd += [",".join(map(str, ports)), str(cert), str(key)]
        server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise SystemExit("the floor server did not start")
            urls = {
                name: f"{scheme}://127.0.0.1:{port}/"
                for (name, scheme), port in zip(SERVERS.items(), ports, strict=True)
            }
            for url in urls.values():  # warm-up: connections, caches
                _wrk(url, server.pid)
            results: dict[str, list[float]] = {name: [] for name in urls}
            for round_ in range(ROUNDS):
                order = list(urls) if round_ % 2 == 0 else list(urls)[::-1]
                for name in order:
                    results[name].append(_wrk(urls[name], server.pid))
            return results
        finally:
            server.kill()
            server.wait(10)


def render(results: dict[str, list[float]]) -> str:
    plain = statistics.median(results["plain"])
    rows = [
        f"| {name} | {statistics.median(runs):.1f} | {statistics.median(runs) - plain:+.1f} | "
        + " · ".join(f"{value:.1f}" for value in runs)
        + " |"
        for name, runs in results.items()
    ]
    return (
        "## TLS floor: the smallest uvloop server, CPU µs per request "
        f"(medians of {ROUNDS} × {DURATION:g} s)\n\n"
        "| server | CPU µs/req | minus plain | rounds |\n|---|---|---|---|\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve([int(port) for port in sys.argv[2].split(",")], sys.argv[3], sys.argv[4])
    else:
        print(render(run()))
