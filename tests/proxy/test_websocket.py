"""WebSocket upgrades are bridged both ways: text, binary, ping/pong, subprotocol, close codes."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


def ws_routes(app: web.Application, state: Backend) -> None:
    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat.v2",))
        await ws.prepare(request)
        await ws.send_str(f"hello {request.headers.get('X-Forwarded-For')} {request.path_qs}")
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if msg.data == "close":
                    await ws.close(code=4001, message=b"bye")
                    break
                await ws.send_str("echo:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    app.router.add_get("/ws", ws_handler)


async def test_websocket_bridged_both_ways(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend(extra=ws_routes)
    p = await proxy_server([route("r", [b.addr])])
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(
            p.url("/ws?room=1").replace("http", "ws"), protocols=("chat.v1", "chat.v2")
        ) as ws:
            assert ws.protocol == "chat.v2"
            hello = await ws.receive_str(timeout=5)
            assert hello == "hello 127.0.0.1 /ws?room=1"
            await ws.send_str("hi")
            assert await ws.receive_str(timeout=5) == "echo:hi"
            payload = bytes(range(256)) * 1000
            await ws.send_bytes(payload)
            assert await ws.receive_bytes(timeout=5) == payload[::-1]
            await ws.send_str("close")
            msg = await ws.receive(timeout=5)
            assert msg.type == WSMsgType.CLOSE
            assert ws.close_code == 4001 or msg.data == 4001
        # Plain HTTP still works on the same route afterwards.
        async with s.get(p.url("/plain")) as r:
            assert r.status == 200


async def test_websocket_upstream_refusal_passes_status(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()  # /ws is not a websocket endpoint there: the echo handler answers 200
    p = await proxy_server([route("r", [b.addr])])
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(p.url("/ws").replace("http", "ws"))
        # The upstream answered 200 instead of 101: that answer is the client's (see
        # test_websocket_refused.py for bodies and failures).
        assert info.value.status == 200
