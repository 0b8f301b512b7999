"""A backend that does not answer a WebSocket handshake with 101 has refused it: the client gets
the backend's response as it is. Only a failed backend is a 502/504, logged with the route."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from ingressctl.proxy import ProxyOptions
from tests.support.ports import free_port

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)

HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
BIG = bytes(range(256)) * 1024  # 256 KiB: more than one read on the way through


def refusing_routes(app: web.Application, state: Backend) -> None:
    def seen(request: web.Request) -> None:
        state.seen.append({"path": request.path, "headers": dict(request.headers)})

    async def forbidden(request: web.Request) -> web.Response:
        seen(request)
        return web.Response(status=403, text="forbidden", headers={"X-Reason": "no token"})

    async def ok(request: web.Request) -> web.Response:
        seen(request)
        return web.Response(text="not a websocket here", headers={"X-Page": "plain"})

    async def big(request: web.Request) -> web.StreamResponse:
        seen(request)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(BIG), 64 * 1024):
            await response.write(BIG[i : i + 64 * 1024])
        await response.write_eof()
        return response

    async def no_content(request: web.Request) -> web.Response:
        seen(request)
        return web.Response(status=204, headers={"X-Empty": "yes"})

    async def redirect(request: web.Request) -> web.Response:
        seen(request)
        return web.Response(status=302, text="moved", headers={"Location": "/ws-moved"})

    async def ws(request: web.Request) -> web.WebSocketResponse:
        seen(request)
        sock = web.WebSocketResponse()
        sock.headers["Set-Cookie"] = "session=backend-secret; Path=/"
        await sock.prepare(request)
        async for msg in sock:
            if msg.type == WSMsgType.TEXT:
                await sock.send_str("echo:" + msg.data)
        return sock

    app.router.add_get("/forbidden", forbidden)
    app.router.add_get("/ok", ok)
    app.router.add_get("/big", big)
    app.router.add_get("/empty", no_content)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/ws", ws)


async def test_refused_handshakes_reach_the_client_unchanged(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    b = await backend(extra=refusing_routes)
    p = await proxy_server([route("refusing", [b.addr])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s:
        # No Accept-Encoding from the client: the backend must not be offered compression on its
        # behalf (it would answer a body the client cannot read).
        async with s.get(p.url("/forbidden"), headers=HANDSHAKE, skip_auto_headers=("Accept-Encoding",)) as r:
            assert r.status == 403
            assert await r.text() == "forbidden"
            assert r.headers["X-Reason"] == "no token"
            assert "Upgrade" not in r.headers
        async with s.get(p.url("/ok"), headers=HANDSHAKE) as r:
            assert r.status == 200
            assert await r.text() == "not a websocket here"
            assert r.headers["X-Page"] == "plain"
        async with s.get(p.url("/big"), headers=HANDSHAKE) as r:
            assert r.status == 200
            assert await r.read() == BIG
        async with s.get(p.url("/empty"), headers=HANDSHAKE) as r:
            assert r.status == 204
            assert r.headers["X-Empty"] == "yes"
            assert await r.read() == b""
        # The redirect is the client's to follow: the proxy does not follow it for the client.
        async with s.get(p.url("/redirect"), headers=HANDSHAKE, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == "/ws-moved"
            assert await r.text() == "moved"
    # Each refusal was a real handshake at the backend, sent once.
    assert [seen["path"] for seen in b.seen] == ["/forbidden", "/ok", "/big", "/empty", "/redirect"]
    for seen in b.seen:
        assert seen["headers"]["Upgrade"] == "websocket"
        assert "Sec-WebSocket-Key" in seen["headers"]
    assert "Accept-Encoding" not in b.seen[0]["headers"]
    # A refusal is the backend's answer, not a proxy failure.
    assert "refusing" not in caplog.text


async def test_upgrade_after_a_refusal_still_works_and_keeps_no_backend_cookies(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=refusing_routes)
    # By name: cookies set by a bare IP address are not kept by aiohttp's default jar anyway.
    p = await proxy_server([route("r", [("localhost", b.port)])])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/forbidden"), headers=HANDSHAKE) as r:
            assert r.status == 403
        for _ in range(2):
            async with s.ws_connect(p.url("/ws").replace("http", "ws")) as ws:
                await ws.send_str("hi")
                assert await ws.receive_str(timeout=5) == "echo:hi"
            # The client's own jar would send the cookie back; this test is about the proxy's.
            s.cookie_jar.clear()
    handshakes = [seen["headers"] for seen in b.seen if seen["path"] == "/ws"]
    assert len(handshakes) == 2
    # The cookie the backend set on the first upgrade was not replayed by the proxy on the second.
    assert "Cookie" not in handshakes[1]


async def test_backend_down_is_a_502_naming_the_route(
    proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    p = await proxy_server([route("ws-down", [("127.0.0.1", free_port())])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s, s.get(p.url("/ws"), headers=HANDSHAKE) as r:
        assert r.status == 502
        assert "Bad Gateway" in await r.text()
    assert "502 for route ws-down" in caplog.text


RawBackend = Callable[[bytes | None], Awaitable[tuple[str, int]]]


@pytest.fixture
async def raw_backend() -> AsyncIterator[RawBackend]:
    """A backend that reads the request head and answers `reply` verbatim (None: never answers)."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(reply: bytes | None) -> tuple[str, int]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await reader.readuntil(b"\r\n\r\n")
            if reply is not None:
                writer.write(reply)
                await writer.drain()
            await reader.read()  # hold the connection until the proxy drops it

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return ("127.0.0.1", server.sockets[0].getsockname()[1])

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_malformed_upgrade_is_a_502_naming_the_route(
    raw_backend: RawBackend, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # A 101 whose accept key does not answer the proxy's key: the upgrade cannot go on.
    bad = await raw_backend(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n"
    )
    p = await proxy_server([route("ws-bad", [bad])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s, s.get(p.url("/ws"), headers=HANDSHAKE) as r:
        assert r.status == 502
    assert "502 for route ws-bad" in caplog.text


async def test_silent_backend_is_a_504_naming_the_route(
    raw_backend: RawBackend, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    silent = await raw_backend(None)
    p = await proxy_server([route("ws-silent", [silent])], options=ProxyOptions(response_header_timeout=0.3))
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s, s.get(p.url("/ws"), headers=HANDSHAKE) as r:
        assert r.status == 504
    assert "504 for route ws-silent" in caplog.text
