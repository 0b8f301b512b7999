"""Large Content-Length bodies spliced by the kernel: intact, connections reused, failures cut cleanly."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ingressctl.proxy import (
    AccessLog,
    EntrypointInfo,
    EntrypointRuntime,
    Proxy,
    ProxyOptions,
    TablePlan,
    splice,
)
from ingressctl.proxy.splice import spliced_bytes
from ingressctl.routing import RoutingTable
from ingressctl.tls.selfsigned import generate_default_certificate

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(60)

BLOB = os.urandom(3 * (1 << 20) + 12345)


def _blob_route(app: web.Application, state: Backend) -> None:
    async def blob(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            state.peers.add((peer[0], peer[1]))
        return web.Response(body=BLOB, content_type="application/octet-stream")

    app.router.add_get("/blob", blob)


async def test_spliced_bodies_are_intact_logged_and_reuse_the_upstream_connection(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    b = await backend(extra=_blob_route)
    p = await proxy_server([route("r", [b.addr])], access_log=AccessLog("json"))
    caplog.set_level(logging.INFO, "ingressctl.access")
    before = spliced_bytes()
    async with aiohttp.ClientSession() as s:
        for _ in range(3):  # one client connection, one upstream connection, three bodies
            async with s.get(p.url("/blob")) as r:
                assert r.status == 200
                assert int(r.headers["Content-Length"]) == len(BLOB)
                assert await r.read() == BLOB
        async with s.get(p.url("/small")) as r:  # the connection is at a clean boundary
            assert r.status == 200
            assert (await r.json())["path_qs"] == "/small"
    assert len(b.peers) == 1
    # Most of each body went through the kernel (the first read carries the head and some body).
    assert spliced_bytes() - before >= 3 * (len(BLOB) - 512 * 1024)
    sizes = [rec.getMessage() for rec in caplog.records if rec.name == "ingressctl.access"]
    assert [json.loads(line)["size"] for line in sizes[:3]] == [len(BLOB)] * 3


async def test_without_splicing_the_same_bytes_arrive(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    b = await backend(extra=_blob_route)
    p = await proxy_server(
        [route("r", [b.addr])], options=ProxyOptions(splice=False), access_log=AccessLog("json")
    )
    caplog.set_level(logging.INFO, "ingressctl.access")
    before = spliced_bytes()
    async with aiohttp.ClientSession() as s, s.get(p.url("/blob")) as r:
        assert await r.read() == BLOB
    assert spliced_bytes() == before
    sizes = [
        json.loads(rec.getMessage())["size"] for rec in caplog.records if rec.name == "ingressctl.access"
    ]
    assert sizes == [len(BLOB)]


async def _raw_backend(
    respond: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object],
) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await respond(reader, writer)  # type: ignore[misc]
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n"


async def test_upstream_closing_mid_body_truncates_the_client_response(
    proxy_server: ProxyFactory, backend: BackendFactory
) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD % (4 << 20))
        for _ in range(16):  # 1 MiB of the promised 4, in pieces, then the connection closes
            writer.write(b"a" * 65536)
            await writer.drain()
            await asyncio.sleep(0.002)

    server, port = await _raw_backend(short)
    healthy = await backend()
    p = await proxy_server([route("r", [("127.0.0.1", port)], path="/short"), route("ok", [healthy.addr])])
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(p.url("/short")) as r:
                assert r.status == 200
                with pytest.raises(aiohttp.ClientPayloadError):
                    await r.read()
            async with s.get(p.url("/fine")) as r:
                assert r.status == 200
    finally:
        server.close()


async def test_upstream_stalling_mid_body_is_cut_after_the_idle_timeout(proxy_server: ProxyFactory) -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD % (4 << 20))
        for _ in range(8):
            writer.write(b"b" * 65536)
            await writer.drain()
            await asyncio.sleep(0.002)
        await asyncio.sleep(5)

    server, port = await _raw_backend(stall)
    p = await proxy_server([route("r", [("127.0.0.1", port)])], options=ProxyOptions(idle_timeout=0.3))
    try:
        async with aiohttp.ClientSession() as s:
            started = time.monotonic()
            async with s.get(p.url("/")) as r:
                assert r.status == 200
                with pytest.raises(aiohttp.ClientPayloadError):
                    await r.read()
            assert 0.25 <= time.monotonic() - started < 3
    finally:
        server.close()


async def test_a_client_leaving_mid_body_leaves_the_proxy_serving(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=_blob_route)
    p = await proxy_server([route("r", [b.addr])])
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
        writer.write(b"GET /blob HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readexactly(256 * 1024)
        writer.transport.abort()  # gone with most of the body unread
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(p.url("/blob")) as r:
                assert hashlib.sha256(await r.read()).digest() == hashlib.sha256(BLOB).digest()


@pytest.fixture
async def tls_front(backend: BackendFactory, tmp_path: Path) -> AsyncIterator[int]:
    b = await backend(extra=_blob_route)
    cert, key = generate_default_certificate()
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    proxy = Proxy(ProxyOptions())
    runner = web.ServerRunner(web.Server(proxy.handler(EntrypointRuntime("websecure", scheme="https"))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy.plan = TablePlan(
        RoutingTable([route("r", [b.addr])]), [EntrypointInfo("websecure", "https", port)], (), RoutingTable
    )
    yield port
    await runner.cleanup()
    await proxy.close()


async def test_tls_clients_get_the_buffered_path(tls_front: int) -> None:
    """Splicing would put plain bytes into a TLS stream: a TLS client must never get them."""
    before = spliced_bytes()
    async with aiohttp.ClientSession() as s, s.get(f"https://127.0.0.1:{tls_front}/blob", ssl=False) as r:
        assert await r.read() == BLOB
    assert spliced_bytes() == before


@pytest.mark.parametrize("first_body_bytes", [0, 300 * 1024])
async def test_head_and_queued_bytes_reach_a_slow_client_before_the_spliced_rest(
    proxy_server: ProxyFactory, first_body_bytes: int
) -> None:
    """The head alone, or a first piece the client cannot take yet: both must leave before the
    kernel's bytes, which go straight to the socket."""
    body = os.urandom(2 << 20)

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD % len(body) + body[:first_body_bytes])
        await writer.drain()
        await asyncio.sleep(0.5)  # the proxy has written what it had and waits for more
        writer.write(body[first_body_bytes:])
        await writer.drain()
        await reader.read()  # until the proxy closes its side

    server, port = await _raw_backend(respond)
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    # Small socket buffers on the proxy side too (accepted sockets inherit them from the listener),
    # so that what aiohttp writes before the splice stays queued in the transport for a while.
    for site in p.runners[0].sites:
        for listener in site._server.sockets:  # type: ignore[union-attr]
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that takes little at a time
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", p.ports["web"]))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(0.1)  # not reading yet
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: %d" % len(body) in head
        assert await reader.readexactly(len(body)) == body
        writer.close()
    finally:
        server.close()


async def test_a_kernel_refusing_splice_turns_it_off_without_failing_a_response(
    backend: BackendFactory,
    proxy_server: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A seccomp profile or an exotic socket makes splice(2) fail with EPERM/EINVAL before any byte
    moved: that body and every later one take the buffered path, and one warning says why."""
    calls: list[int] = []

    def refuse(*args: object, **kwargs: object) -> int:
        calls.append(1)
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(splice.os, "splice", refuse)
    monkeypatch.setattr(splice, "_disabled", "")  # restored after the test
    b = await backend(extra=_blob_route)
    p = await proxy_server([route("r", [b.addr])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(p.url("/blob")) as r:
                assert r.status == 200
                assert await r.read() == BLOB
    assert len(calls) == 1  # tried once, then never again
    warnings = [r.getMessage() for r in caplog.records if "instead of spliced" in r.getMessage()]
    assert len(warnings) == 1 and "Operation not permitted" in warnings[0]


async def test_running_out_of_descriptors_copies_that_body_and_splices_the_next(
    backend: BackendFactory, proxy_server: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = await backend(extra=_blob_route)
    p = await proxy_server([route("r", [b.addr])])
    monkeypatch.setattr(splice._pipes, "_free", [])  # no pooled pipe: the next body needs a new one
    real_pipe2 = os.pipe2
    failures = [OSError(errno.EMFILE, "Too many open files")]

    def pipe2(flags: int) -> tuple[int, int]:
        if failures:
            raise failures.pop()
        return real_pipe2(flags)

    monkeypatch.setattr(splice.os, "pipe2", pipe2)
    async with aiohttp.ClientSession() as s:
        before = spliced_bytes()
        async with s.get(p.url("/blob")) as r:
            assert await r.read() == BLOB
        assert spliced_bytes() == before  # copied
        async with s.get(p.url("/blob")) as r:
            assert await r.read() == BLOB
        assert spliced_bytes() - before >= len(BLOB) - 512 * 1024  # spliced again


async def test_a_client_that_stops_reading_costs_no_cpu(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """While the client does not read, the splice waits for the client alone: no busy loop (a full
    pipe makes the upstream side answer EAGAIN even while its socket has data to read)."""
    b = await backend(extra=_blob_route)
    p = await proxy_server([route("r", [b.addr])])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", p.ports["web"]))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"GET /blob HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    first = await reader.readexactly(64 * 1024)  # the splice is under way; now the client stops reading
    await asyncio.sleep(0.2)
    cpu = time.process_time()
    await asyncio.sleep(1.0)
    assert time.process_time() - cpu < 0.3  # this process runs the proxy, the backend and the client
    assert first + await reader.readexactly(len(BLOB) - len(first)) == BLOB
    writer.close()
