"""Response-header and body-idle timeouts: slow but steady responses pass, stalled ones are cut."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from ingressctl.proxy import ProxyOptions

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


def _slow_routes(app: web.Application, state: Backend) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        # Headers at once, then ten pieces 0.1 s apart: longer than both timeouts in total,
        # never silent for as long as either.
        resp = web.StreamResponse(headers={"Content-Length": "100"})
        await resp.prepare(request)
        for _ in range(10):
            await asyncio.sleep(0.1)
            await resp.write(b"y" * 10)
        await resp.write_eof()
        return resp

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "100"})
        await resp.prepare(request)
        await resp.write(b"z" * 10)
        await asyncio.sleep(3)  # silent far beyond the idle timeout
        return resp

    async def late(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="too late")

    app.router.add_get("/trickle", trickle)
    app.router.add_get("/stall", stall)
    app.router.add_get("/late", late)


async def test_steady_slow_bodies_pass_and_stalls_are_cut(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=_slow_routes)
    p = await proxy_server(
        [route("r", [b.addr])], options=ProxyOptions(response_header_timeout=0.3, idle_timeout=0.3)
    )
    async with aiohttp.ClientSession() as s:

        async def trickle() -> bytes:
            async with s.get(p.url("/trickle")) as r:
                assert r.status == 200
                return await r.read()

        async def stall() -> float:
            start = time.monotonic()
            async with s.get(p.url("/stall")) as r:
                assert r.status == 200  # the head was sent; the cut shows as a truncated body
                with pytest.raises(aiohttp.ClientPayloadError):
                    await r.read()
            return time.monotonic() - start

        async def late() -> tuple[int, float]:
            start = time.monotonic()
            async with s.get(p.url("/late")) as r:
                return r.status, time.monotonic() - start

        bodies, stalled, (late_status, late_after) = await asyncio.gather(
            asyncio.gather(*(trickle() for _ in range(5))), stall(), late()
        )
    assert bodies == [b"y" * 100] * 5
    assert 0.25 <= stalled < 1.5
    assert late_status == 504
    assert 0.25 <= late_after < 1.5


async def test_an_answered_request_leaves_no_timeout_behind(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server(
        [route("r", [b.addr])], options=ProxyOptions(response_header_timeout=0.2, idle_timeout=0.2)
    )
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(p.url("/")) as r:
                assert r.status == 200
            await asyncio.sleep(0.5)  # idle in the pool for longer than either timeout
    assert len(b.seen) == 3
    assert len(b.peers) == 1  # the pooled upstream connection was kept and reused
