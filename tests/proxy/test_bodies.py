"""Response bodies arrive intact when many streams share the proxy's upstream read buffers."""

from __future__ import annotations

import asyncio
import hashlib
import os

import aiohttp
import pytest
from aiohttp import web

from ingressctl.proxy import ProxyOptions

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(60)

# Distinct content per body, so a chunk delivered to the wrong stream (or overwritten in a
# shared buffer before it was sent) changes the digest.
BODIES = {f"/blob/{i}": os.urandom((1 << 20) + 7919 * i) for i in range(6)}


def _blobs(app: web.Application, state: Backend) -> None:
    async def blob(request: web.Request) -> web.StreamResponse:
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

    async def small(request: web.Request) -> web.Response:
        return web.Response(text="x" * 100)

    app.router.add_get("/blob/{n}", blob)
    app.router.add_get("/small", small)


async def _digest(s: aiohttp.ClientSession, url: str, slow: bool) -> str:
    h = hashlib.sha256()
    async with s.get(url) as r:
        assert r.status == 200
        async for piece in r.content.iter_chunked(64 * 1024):
            h.update(piece)
            if slow:
                await asyncio.sleep(0.001)  # a slow reader: the proxy's buffers fill and pause
    return h.hexdigest()


@pytest.mark.parametrize("high_water", [256 * 1024, 16 * 1024])
async def test_concurrent_large_bodies_are_intact(
    backend: BackendFactory, proxy_server: ProxyFactory, high_water: int
) -> None:
    b = await backend("blobs", extra=_blobs)
    p = await proxy_server([route("r", [b.addr])], options=ProxyOptions(read_high_water=high_water))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as s:
        jobs = []
        expected = []
        for round_ in range(2):
            for i, (path, data) in enumerate(BODIES.items()):
                mode = "chunked" if (i + round_) % 2 else "length"
                jobs.append(_digest(s, p.url(f"{path}?mode={mode}"), slow=i % 3 == 0))
                expected.append(hashlib.sha256(data).hexdigest())
        # Small responses in between: their heads are read through the same shared buffer.
        smalls = [s.get(p.url("/small")) for _ in range(40)]

        async def small_ok(ctx: object) -> None:
            async with ctx as r:  # type: ignore[attr-defined]
                assert r.status == 200
                assert await r.text() == "x" * 100

        digests, *_ = await asyncio.gather(asyncio.gather(*jobs), *(small_ok(c) for c in smalls))
    assert digests == expected
