"""Large bodies stream through the real `serve` process both ways in bounded memory."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.manifests import write_apps

from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
CHUNK = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture
async def stream_backend() -> AsyncIterator[int]:
    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        size = 0
        async for data in request.content.iter_any():
            digest.update(data)
            size += len(data)
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    async def download(request: web.Request) -> web.StreamResponse:
        mib = int(request.query["mib"])
        resp = web.StreamResponse()
        resp.content_length = mib * MIB
        await resp.prepare(request)
        for _ in range(mib):
            await resp.write(CHUNK)
        await resp.write_eof()
        return resp

    app = web.Application(client_max_size=1 << 40)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await runner.cleanup()


async def _body(mib: int) -> AsyncIterator[bytes]:
    for _ in range(mib):
        yield CHUNK


def _expected(mib: int) -> str:
    digest = hashlib.sha256()
    for _ in range(mib):
        digest.update(CHUNK)
    return digest.hexdigest()


async def _roundtrip(sp: ServeProcess, mib: int, chunked_upload: bool) -> None:
    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        headers = {"Host": "big.test"}
        if not chunked_upload:
            headers["Content-Length"] = str(mib * MIB)
        async with s.post(sp.url("/upload"), data=_body(mib), headers=headers) as r:
            assert r.status == 200
            assert await r.json() == {"size": mib * MIB, "sha256": _expected(mib)}
        digest = hashlib.sha256()
        size = 0
        async with s.get(sp.url(f"/download?mib={mib}"), headers={"Host": "big.test"}) as r:
            assert r.status == 200
            async for data in r.content.iter_any():
                digest.update(data)
                size += len(data)
        assert size == mib * MIB
        assert digest.hexdigest() == _expected(mib)


@pytest.mark.parametrize("mib", [300, 1024])
async def test_large_upload_and_download_in_bounded_memory(
    tmp_path: Path, stream_backend: int, serve: Callable[..., ServeProcess], mib: int
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("big", "big.test", "/", stream_backend)])
    sp = serve("--manifests", str(manifests), "--entrypoint", "web=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)
    baseline = sp.peak_rss_kib()
    await _roundtrip(sp, mib, chunked_upload=False)
    if mib < 1024:
        await _roundtrip(sp, 64, chunked_upload=True)
    growth_mib = (sp.peak_rss_kib() - baseline) / 1024
    # Bodies of hundreds of MiB pass with a few MiB of buffers, never the body itself.
    assert growth_mib < 32, f"peak RSS grew by {growth_mib:.1f} MiB for {mib} MiB bodies"
