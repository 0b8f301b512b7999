"""What a client can make the real `ingressctl serve` do: paths that mean another path to the backend,
pipelining (served in order, garbage refused, no forwarding for a client that never reads), and
the connection limits of [entryPoints.NAME.transport]. Raw sockets, a real backend counting requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.manifests import write_apps

from .backends import Backend
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(90)

GET = b"GET /p HTTP/1.1\r\nHost: app.test\r\n\r\n"


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    b = await Backend("127.0.0.1").start()
    yield b
    await b.stop()


Start = Callable[[str], ServeProcess]


@pytest.fixture
def start(tmp_path: Path, backend: Backend, serve: Callable[..., ServeProcess]) -> Start:
    """Start serve with one entrypoint `web` whose [transport] table is `transport` (TOML lines)."""

    def run(transport: str = "") -> ServeProcess:
        write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", backend.port)])
        config = tmp_path / "traefik.toml"
        config.write_text(
            '[entryPoints.web]\naddress = "127.0.0.1:0"\n'
            + ("[entryPoints.web.transport]\n" + textwrap.dedent(transport) if transport else "")
        )
        return serve(
            "--config", str(config), "--manifests", str(tmp_path / "apps.yaml"), "--log-level", "debug"
        )

    return run


async def ready(start: Start, transport: str = "") -> ServeProcess:
    sp = start(transport)
    await asyncio.to_thread(sp.wait_ready)
    return sp


def connect(sp: ServeProcess) -> socket.socket:
    host, _, port = sp.addresses["web"].rpartition(":")
    return socket.create_connection((host, int(port)), timeout=20)


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """`count` responses (status lines), reading by Content-Length."""
    buf = b""
    statuses: list[bytes] = []
    while len(statuses) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1")
            length = next(
                int(line.split(":", 1)[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length:")
            )
            if len(buf) >= end + 4 + length:
                statuses.append(buf[: buf.find(b"\r\n")])
                buf = buf[end + 4 + length :]
                continue
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return statuses


async def poll(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        "/public/..;/admin",
        "/public/..;jsessionid=x/admin",
        "/.;/admin",
        "/public/%2e%2e;/admin",
        "/public/.%2e;/admin",
        "/public/..%3B/admin",
        "/public/..;%5cadmin",
        "/public/%c0%ae%c0%ae/admin",
        "/public/%ef%bc%8e%ef%bc%8e/admin",
    ],
)
async def test_dot_segments_with_parameters_are_refused(start: Start, backend: Backend, path: str) -> None:
    """A servlet container reads `..;x` as `..`: forwarded, it would reach /admin past the rules."""
    sp = await ready(start)
    sock = connect(sp)
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".encode())
        response = await asyncio.to_thread(read_until_closed, sock)
    assert response.startswith(b"HTTP/1.1 400 "), response
    assert backend.hits == 0
    with connect(sp) as ok:
        ok.sendall(b"GET /public/a;jsessionid=1/b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        assert (await asyncio.to_thread(read_until_closed, ok)).startswith(b"HTTP/1.1 200 ")
    assert backend.hits == 1


async def test_path_parameters_that_would_change_the_route_are_refused(
    tmp_path: Path, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    """To Tomcat `/admin;x/secret` is `/admin/secret`: routed by its full text it would take the
    public route and skip what guards /admin."""
    write_apps(
        tmp_path / "apps.yaml",
        [("admin", "app.test", "/admin", backend.port), ("app", "app.test", "/", backend.port)],
    )
    sp = serve("--manifests", str(tmp_path / "apps.yaml"), "--entrypoint", "web=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)

    def get(path: str) -> bytes:
        with connect(sp) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".encode())
            return read_until_closed(sock)

    for path in ("/admin;x/secret", "/admin;/secret", "/admin;jsessionid=1"):
        assert (await asyncio.to_thread(get, path)).startswith(b"HTTP/1.1 400 "), path
    assert backend.hits == 0
    for path in ("/public;jsessionid=1/x", "/admin/x;jsessionid=1", "/admin/y;z"):
        assert (await asyncio.to_thread(get, path)).startswith(b"HTTP/1.1 200 "), path
    assert backend.hits == 3


# ---------------------------------------------------------------- pipelining


async def test_requests_before_garbage_in_one_packet_are_served_then_refused(
    start: Start, backend: Backend
) -> None:
    sp = await ready(start)
    with connect(sp) as sock:
        sock.sendall(GET + GET + b"GARBAGE \x01\x02 NOT HTTP\r\n\r\n")
        response = await asyncio.to_thread(read_until_closed, sock)
    statuses = re.findall(rb"HTTP/1\.[01] \d\d\d [A-Za-z ]+\r\n", response)
    assert statuses[:2] == [b"HTTP/1.1 200 OK\r\n"] * 2, response
    assert re.fullmatch(rb"HTTP/1\.[01] 400 Bad Request\r\n", statuses[2]), response
    assert len(statuses) == 3, response
    assert backend.hits == 2
    assert "Traceback" not in sp.text


async def test_a_client_that_pipelines_without_reading_gets_only_its_pipeline_depth_forwarded(
    start: Start, backend: Backend
) -> None:
    """Without the cap, the proxy forwarded every request it read and buffered all the answers
    (about 5,000 backend requests per connection in the security review)."""
    sp = await ready(start, "maxPipelinedRequests = 8\n")
    with connect(sp) as sock:
        await asyncio.to_thread(sock.sendall, GET * 300)
        response = await asyncio.to_thread(read_until_closed, sock)
    statuses = re.findall(rb"HTTP/1\.1 \d\d\d [A-Za-z ]+\r\n", response)
    assert statuses == [b"HTTP/1.1 200 OK\r\n"] * 8
    assert backend.hits == 8


async def test_a_client_that_reads_between_pipelines_keeps_its_connection(
    start: Start, backend: Backend
) -> None:
    sp = await ready(start, "maxPipelinedRequests = 8\n")
    with connect(sp) as sock:
        for _ in range(3):  # 24 requests on one connection, never more than 8 unanswered
            sock.sendall(GET * 8)
            assert (await asyncio.to_thread(read_responses, sock, 8)) == [b"HTTP/1.1 200 OK"] * 8
    assert backend.hits == 24


async def test_a_response_waiting_on_a_full_socket_holds_the_next_request(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    """The answer to one request waiting on a full socket holds the next request (aiohttp's write_eof
    drains; this guards it, for answers small enough not to be drained while written). With a
    pipeline depth that never applies, the full socket alone must stop the forwarding."""
    from aiohttp import web

    hits = 0
    body = b"x" * 60_000

    async def big(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(body=body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", port)])
        config = tmp_path / "traefik.toml"
        config.write_text(
            '[entryPoints.web]\naddress = "127.0.0.1:0"\n'
            "[entryPoints.web.transport]\nmaxPipelinedRequests = 100000\n"
        )
        sp = serve("--config", str(config), "--manifests", str(tmp_path / "apps.yaml"))
        await asyncio.to_thread(sp.wait_ready)
        total = 300  # 18 MB of answers: far more than the socket buffers hold (about 4 MB here)
        with connect(sp) as sock:
            await asyncio.to_thread(sock.sendall, GET * total)
            await poll(lambda: hits > 0, "forwarding started")
            # Wait until forwarding stops (the count holds for a second), within the deadline.
            deadline = time.monotonic() + 30
            last = -1
            while hits != last:
                assert time.monotonic() < deadline, f"still forwarding: {hits}"
                last = hits
                await asyncio.sleep(1.0)
            assert hits < total // 2, hits
            statuses = await asyncio.to_thread(read_responses, sock, total)
        assert statuses == [b"HTTP/1.1 200 OK"] * total
        assert hits == total
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- connection limits


def _slowloris(sp: ServeProcess, closed: list[bytes]) -> None:
    """Send a request head one byte at a time, every 0.2 s, until the server closes the connection."""
    with connect(sp) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                sock.sendall(b"X")
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            closed.append(data)
            if not data:
                break
            sock.settimeout(20)
            with contextlib.suppress(OSError):  # the rest of the answer, or a reset for our last bytes
                closed.append(read_until_closed(sock))
            break


async def test_a_request_head_that_does_not_arrive_in_time_ends_the_connection(
    start: Start, backend: Backend
) -> None:
    sp = await ready(start, '[entryPoints.web.transport.respondingTimeouts]\nreadHeaderTimeout = "1s"\n')
    got: list[bytes] = []
    await asyncio.to_thread(_slowloris, sp, got)
    assert b"".join(got).startswith(b"HTTP/1.1 408 Request Timeout"), got
    # A connection that says nothing at all is closed too.
    with connect(sp) as silent:
        assert (await asyncio.to_thread(read_until_closed, silent)).startswith(b"HTTP/1.1 408 ")
    # A keep-alive connection may wait longer than that between requests (the idle timeout applies).
    with connect(sp) as sock:
        sock.sendall(GET)
        assert (await asyncio.to_thread(read_responses, sock, 1)) == [b"HTTP/1.1 200 OK"]
        await asyncio.sleep(1.5)
        sock.sendall(GET)
        assert (await asyncio.to_thread(read_responses, sock, 1)) == [b"HTTP/1.1 200 OK"]
    assert backend.hits == 2


async def test_a_slow_request_body_is_not_cut_by_the_header_timeout(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    from aiohttp import web

    async def echo_length(request: web.Request) -> web.Response:
        return web.Response(text=f"got {len(await request.read())}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo_length)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", port)])
        config = tmp_path / "traefik.toml"
        config.write_text(
            '[entryPoints.web]\naddress = "127.0.0.1:0"\n'
            '[entryPoints.web.transport.respondingTimeouts]\nreadHeaderTimeout = "1s"\n'
        )
        sp = serve("--config", str(config), "--manifests", str(tmp_path / "apps.yaml"))
        await asyncio.to_thread(sp.wait_ready)

        def upload() -> bytes:
            with connect(sp) as sock:
                sock.sendall(
                    b"POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
                )
                for byte in b"12345678":  # 8 bytes over about 2.4 s: longer than the header timeout
                    time.sleep(0.3)
                    sock.sendall(bytes([byte]))
                return read_until_closed(sock)

        response = await asyncio.to_thread(upload)
        assert response.startswith(b"HTTP/1.1 200 OK"), response
        assert response.endswith(b"got 8")
    finally:
        await runner.cleanup()


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(start: Start) -> None:
    sp = await ready(start, '[entryPoints.web.transport.respondingTimeouts]\nidleTimeout = "1s"\n')
    with connect(sp) as sock:
        sock.sendall(GET)
        assert (await asyncio.to_thread(read_responses, sock, 1)) == [b"HTTP/1.1 200 OK"]
        assert await asyncio.to_thread(read_until_closed, sock) == b""  # closed by the proxy


async def test_connections_over_the_cap_are_refused_and_the_others_go_on(
    start: Start, backend: Backend
) -> None:
    sp = await ready(start, "maxConnections = 2\n")
    first, second = connect(sp), connect(sp)
    try:
        for sock in (first, second):
            sock.sendall(GET)
            assert (await asyncio.to_thread(read_responses, sock, 1)) == [b"HTTP/1.1 200 OK"]
        with connect(sp) as third:
            third.sendall(GET)
            refused = await asyncio.to_thread(read_until_closed, third)
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable"), refused
        for sock in (first, second):  # the established connections still work
            sock.sendall(GET)
            assert (await asyncio.to_thread(read_responses, sock, 1)) == [b"HTTP/1.1 200 OK"]
        assert backend.hits == 4
        await poll(lambda: "maxConnections" in sp.text, "the refusal logged")
    finally:
        first.close()

    def fourth_served() -> bool:
        with connect(sp) as fourth:
            fourth.sendall(b"GET /p HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
            return read_until_closed(fourth).startswith(b"HTTP/1.1 200 ")

    async def served_again() -> None:
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(fourth_served):
            assert time.monotonic() < deadline, "no room after a connection closed"
            await asyncio.sleep(0.1)

    await served_again()  # a closed connection frees its place
    second.close()


def test_the_open_files_limit_is_raised_to_the_hard_limit(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit leaves nothing to raise")  # pragma: no cover
    (tmp_path / "apps.yaml").write_text("")

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingressctl",
            "serve",
            "--manifests",
            str(tmp_path),
            "--entrypoint",
            "web=127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
        preexec_fn=lower,
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    try:
        sp.wait_ready()
        with open(f"/proc/{proc.pid}/limits") as f:
            line = next(line for line in f if line.startswith("Max open files"))
        soft_now = line.split()[3]
        assert soft_now != "256", line
        assert soft_now == (line.split()[4]) or hard == resource.RLIM_INFINITY, line
    finally:
        sp.stop()
