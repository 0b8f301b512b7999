"""Malformed requests get a short 400 (431 for an oversized header), no traceback in the log."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.manifests import write_apps
from tests.support.polling import eventually

from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(60)

HEAD = b"GET / HTTP/1.1\r\nHost: app.test\r\n"

MALFORMED = {
    "content-length not a number": HEAD + b"Content-Length: abc\r\n\r\n",
    "content-length with transfer-encoding": (
        b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": (
        b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ),
    "unknown HTTP version": b"GET / HTTP/9.9\r\nHost: app.test\r\n\r\n",
    "header name with a space": HEAD + b"Bad Name: x\r\n\r\n",
    "HTTP/2 prior knowledge": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

# What aiohttp's parser says about each of those (and its traceback): none of it is for the client.
INTERNALS = ("Traceback", "Invalid", "Bad status line", "Pause on", "aiohttp", "b'", "^", "Got more than")


@pytest.fixture
async def backend_port() -> AsyncIterator[int]:
    async def handler(request: web.Request) -> web.Response:
        await request.read()  # the whole body first: the answer cannot overtake a bad chunk
        return web.Response(text=f"hello {request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await runner.cleanup()


@pytest.fixture
async def sp(tmp_path: Path, backend_port: int, serve: Callable[..., ServeProcess]) -> ServeProcess:
    write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", backend_port)])
    # Debug level: even the most verbose log says one line per bad request, never a traceback.
    process = serve(
        "--manifests", str(tmp_path / "apps.yaml"), "--entrypoint", "web=127.0.0.1:0", "--log-level", "debug"
    )
    await asyncio.to_thread(process.wait_ready)
    return process


def _exchange(address: str, raw: bytes) -> bytes:
    """Send `raw`, read until the server closes the connection (it must: a bad request ends it)."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def _split(response: bytes) -> tuple[bytes, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


async def _still_serves(sp: ServeProcess) -> None:
    async with aiohttp.ClientSession() as s, s.get(sp.url("/ok"), headers={"Host": "app.test"}) as r:
        assert r.status == 200 and await r.text() == "hello /ok"


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=list(MALFORMED))
async def test_malformed_request_gets_a_short_400(sp: ServeProcess, raw: bytes) -> None:
    response = await asyncio.to_thread(_exchange, sp.addresses["web"], raw)
    status, body = _split(response)
    assert re.fullmatch(rb"HTTP/1\.[01] 400 Bad Request", status), response
    assert body.startswith(b"Bad Request"), response
    assert len(body) < 80, response
    for text in INTERNALS:
        assert text.encode() not in body, response
    await _still_serves(sp)
    _assert_concise_log(sp)


async def test_oversized_header_line_gets_431(sp: ServeProcess) -> None:
    raw = HEAD + b"X-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n"
    response = await asyncio.to_thread(_exchange, sp.addresses["web"], raw)
    status, body = _split(response)
    assert re.fullmatch(rb"HTTP/1\.[01] 431 Request Header Fields Too Large", status), response[:200]
    assert body == b"Request Header Fields Too Large\n"
    await _still_serves(sp)
    _assert_concise_log(sp)


async def test_many_bad_requests_leave_one_line_each(sp: ServeProcess) -> None:
    before = len(sp.lines)
    for raw in MALFORMED.values():
        await asyncio.to_thread(_exchange, sp.addresses["web"], raw)
    await _still_serves(sp)

    def malformed_lines() -> list[str]:
        return [line for line in sp.lines[before:] if "malformed request from 127.0.0.1" in line]

    # The server's log reaches this process through a pipe: on a loaded machine the last lines can
    # arrive after the next request was answered. Wait for them (or fail below, naming what came).
    with contextlib.suppress(AssertionError):
        await eventually(lambda: len(malformed_lines()) >= len(MALFORMED), "a log line per request")
    lines = sp.lines[before:]
    malformed = malformed_lines()
    assert len(malformed) == len(MALFORMED), "\n".join(lines)
    assert all("DEBUG" in line for line in malformed), "\n".join(malformed)
    _assert_concise_log(sp)


def _assert_concise_log(sp: ServeProcess) -> None:
    assert "Traceback" not in sp.text, sp.text
    assert "ERROR" not in sp.text and "Error handling request" not in sp.text, sp.text


def _bad_chunk_later(address: str) -> tuple[bytes, float]:
    """A chunked POST whose first chunk is fine and whose second, sent once the proxy is already
    forwarding the request, has no valid size: the answer and how long it took."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            b"POST /up HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        time.sleep(0.5)  # the request is being forwarded: its body stream is open
        started = time.monotonic()
        sock.sendall(b"zz\r\nworld\r\n0\r\n\r\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks), time.monotonic() - started


async def test_a_bad_chunk_after_the_request_started_ends_it_at_once(sp: ServeProcess) -> None:
    # aiohttp queues that parse error behind the running request and leaves its body open: without
    # failing the body, the request waited for the idle timeout (minutes).
    response, seconds = await asyncio.to_thread(_bad_chunk_later, sp.addresses["web"])
    status, body = _split(response)
    assert re.fullmatch(rb"HTTP/1\.[01] 400 Bad Request", status), response
    assert body == b"Bad Request: request body incomplete\n"
    assert seconds < 5
    assert any("malformed request body from 127.0.0.1" in line for line in sp.lines), sp.text
    await _still_serves(sp)
    _assert_concise_log(sp)
