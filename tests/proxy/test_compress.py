"""compress = true: what a client sees from a real proxy and a real backend — gzip or brotli when
accepted, streamed chunk by chunk, and never for encoded, partial, tiny or non-text bodies."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import aiohttp
import brotli
import pytest
from aiohttp import web
from multidict import CIMultiDict

from ingressctl.proxy import EntrypointRuntime
from ingressctl.proxy.middlewares.compress import COMPRESS, accepted_coding, compressible

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)

PAGE = ("<p>" + "ingressctl compresses text " * 40 + "</p>\n") * 20  # ~22 KB


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("", None),
        ("*", "br"),
        ("*;q=0.2, br;q=0", "gzip"),
    ],
)
def test_accepted_coding(header: str, expected: str | None) -> None:
    assert accepted_coding(header) == expected


def test_compressible_types() -> None:
    assert compressible("text/html; charset=utf-8")
    assert compressible("application/vnd.api+json")
    assert compressible("image/svg+xml")
    assert not compressible("image/png")
    assert not compressible("")


def backend_routes(gate: asyncio.Event) -> object:
    def extra(app: web.Application, _: Backend) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(
                text=PAGE, content_type="text/html", headers={"ETag": '"v1"', "Accept-Ranges": "bytes"}
            )

        async def small(request: web.Request) -> web.Response:
            return web.Response(text="tiny", content_type="text/plain")

        async def png(request: web.Request) -> web.Response:
            return web.Response(body=PAGE.encode(), content_type="image/png")

        async def encoded(request: web.Request) -> web.Response:
            body = gzip.compress(PAGE.encode())
            return web.Response(body=body, content_type="text/html", headers={"Content-Encoding": "gzip"})

        async def partial(request: web.Request) -> web.Response:
            return web.Response(
                status=206,
                text=PAGE[:2000],
                content_type="text/html",
                headers={"Content-Range": f"bytes 0-1999/{len(PAGE)}"},
            )

        async def no_transform(request: web.Request) -> web.Response:
            return web.Response(
                text=PAGE, content_type="text/html", headers={"Cache-Control": "no-transform"}
            )

        async def events(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await response.write(b"data: first\n\n")
            await gate.wait()  # the client must have the first event before the second is sent
            await response.write(b"data: second\n\n")
            await response.write_eof()
            return response

        for name, handler in {
            "/page": page,
            "/small": small,
            "/png": png,
            "/encoded": encoded,
            "/partial": partial,
            "/no-transform": no_transform,
            "/events": events,
        }.items():
            app.router.add_get(name, handler)

    return extra


async def test_compresses_what_it_should_and_nothing_else(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    gate = asyncio.Event()
    b = await backend(extra=backend_routes(gate))
    p = await proxy_server([route("r", [b.addr])], entrypoints=[EntrypointRuntime("web", compress=COMPRESS)])
    async with aiohttp.ClientSession(auto_decompress=False) as s:

        async def get(
            path: str, coding: str = "gzip, br", method: str = "GET"
        ) -> tuple[int, bytes, CIMultiDict[str]]:
            async with s.request(method, p.url(path), headers={"Accept-Encoding": coding}) as r:
                return r.status, await r.read(), r.headers.copy()

        status, body, headers = await get("/page")
        assert (status, headers["Content-Encoding"], headers["Vary"]) == (200, "br", "Accept-Encoding")
        assert brotli.decompress(body).decode() == PAGE and len(body) < len(PAGE) // 5
        assert headers["ETag"] == 'W/"v1"' and "Accept-Ranges" not in headers
        status, body, headers = await get("/page", "gzip")
        assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body).decode() == PAGE
        status, body, headers = await get("/page", "identity")
        assert "Content-Encoding" not in headers and body.decode() == PAGE
        assert headers["Vary"] == "Accept-Encoding"  # caches must keep the forms apart
        status, body, headers = await get("/page", method="HEAD")
        assert (status, body) == (200, b"") and "Content-Encoding" not in headers
        for path in ("/small", "/png", "/partial", "/no-transform"):
            status, body, headers = await get(path)
            assert "Content-Encoding" not in headers, path
        status, body, headers = await get("/encoded")
        assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body).decode() == PAGE  # once

        async with s.get(p.url("/events"), headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            inflate = zlib.decompressobj(31)
            seen = b""
            while b"first" not in seen:
                seen += inflate.decompress(await r.content.readany())
            assert b"second" not in seen
            gate.set()
            seen += inflate.decompress(await r.read())
            assert seen == b"data: first\n\ndata: second\n\n" and inflate.eof


async def test_without_compress_the_body_is_relayed_as_is(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=backend_routes(asyncio.Event()))
    p = await proxy_server([route("r", [b.addr])])
    async with (
        aiohttp.ClientSession(auto_decompress=False) as s,
        s.get(p.url("/page"), headers={"Accept-Encoding": "gzip"}) as r,
    ):
        assert "Content-Encoding" not in r.headers and (await r.read()).decode() == PAGE
