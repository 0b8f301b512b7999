"""Response bodies arrive intact when many streams share the proxy's upstream read buffers."""

from __future__ import annotations

import asyncio
import hashlib
import os

import aiohttp
import pytest
from aiohttp import web

from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, Proxy, ProxyOptions, TablePlan
from ingressctl.proxy.splice import spliced_bytes
from ingressctl.routing import RoutingTable

from .conftest import route

pytestmark = pytest.mark.timeout(60)

# Distinct content per body, so a chunk delivered to the wrong stream (or overwritten in a
# reused buffer before it was sent) changes the digest.
BODIES = {f"/blob/{i}": os.urandom((1 << 20) + 7919 * i) for i in range(6)}


async def _blob(request: web.Request) -> web.StreamResponse:
    data = BODIES[request.path]
    if request.query.get("mode") == "chunked":
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(data), 50_000):
            await resp.write(data[i : i + 50_000])
        await resp.write_eof()
        return resp
    return web.Response(body=data, content_type="application/octet-stream")


async def _small(request: web.Request) -> web.Response:
    return web.Response(text="x" * 100)


async def _digest(s: aiohttp.ClientSession, url: str, slow: bool) -> str:
    h = hashlib.sha256()
    async with s.get(url) as r:
        assert r.status == 200
        async for piece in r.content.iter_chunked(64 * 1024):
            h.update(piece)
            if slow:
                await asyncio.sleep(0.001)  # a slow reader: the proxy's buffers fill and pause
    return h.hexdigest()


async def _small_ok(s: aiohttp.ClientSession, url: str) -> None:
    async with s.get(url) as r:
        assert r.status == 200
        assert await r.text() == "x" * 100


async def _scenario(high_water: int) -> None:
    app = web.Application()
    app.router.add_get("/blob/{n}", _blob)
    app.router.add_get("/small", _small)
    backend = web.AppRunner(app, access_log=None)
    await backend.setup()
    bsite = web.TCPSite(backend, "127.0.0.1", 0)
    await bsite.start()
    assert bsite._server is not None
    bport = bsite._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy = Proxy(ProxyOptions(read_high_water=high_water))
    front = web.ServerRunner(web.Server(proxy.handler(EntrypointRuntime("web")), access_log=None))
    await front.setup()
    psite = web.TCPSite(front, "127.0.0.1", 0)
    await psite.start()
    assert psite._server is not None
    port = psite._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    table = RoutingTable([route("r", [("127.0.0.1", bport)])])
    proxy.plan = TablePlan(table, [EntrypointInfo("web", "http", port)], (), RoutingTable)
    base = f"http://127.0.0.1:{port}"
    spliced_before = spliced_bytes()
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as s:
            jobs = []
            expected = []
            for round_ in range(2):
                for i, (path, data) in enumerate(BODIES.items()):
                    mode = "chunked" if (i + round_) % 2 else "length"
                    jobs.append(_digest(s, f"{base}{path}?mode={mode}", slow=i % 3 == 0))
                    expected.append(hashlib.sha256(data).hexdigest())
            # Small responses in between: their heads are read through the same shared buffer.
            smalls = [_small_ok(s, f"{base}/small") for _ in range(40)]
            digests, *_ = await asyncio.gather(asyncio.gather(*jobs), *smalls)
        assert digests == expected
        # Half the bodies have a Content-Length: the kernel moved most of those (on uvloop too).
        assert spliced_bytes() - spliced_before >= 6 * 512 * 1024
    finally:
        await front.cleanup()
        await proxy.close()
        await backend.cleanup()


@pytest.mark.parametrize("high_water", [256 * 1024, 16 * 1024])
async def test_concurrent_large_bodies_are_intact(high_water: int) -> None:
    await _scenario(high_water)


@pytest.mark.parametrize("high_water", [256 * 1024, 16 * 1024])
def test_concurrent_large_bodies_are_intact_on_uvloop(high_water: int) -> None:
    """uvloop (what `serve` runs on) keeps unsent data in its own way: the same checks there."""
    uvloop = pytest.importorskip("uvloop")
    uvloop.run(_scenario(high_water))
