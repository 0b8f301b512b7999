"""Responses whose head and a large start of the body reach the proxy in one socket read.

The proxy parses such a head without copying the body bytes that follow it; these upstreams write
each response (interim responses included) with a single `write`, so the first read holds both.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ingressctl.proxy import ProxyOptions

from .conftest import ProxyFactory, route

pytestmark = pytest.mark.timeout(60)

BODY = os.urandom(300_000)


def _response(mode: str) -> bytes:
    if mode == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
    if mode == "interim":
        return (
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            + b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)
            + BODY
        )
    if mode == "chunked":
        half = len(BODY) // 2
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % half
            + BODY[:half]
            + b"\r\n%x\r\n" % (len(BODY) - half)
            + BODY[half:]
            + b"\r\n0\r\n\r\n"
        )
    if mode == "close":
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY
    raise AssertionError(mode)


@pytest.fixture
async def raw_upstream() -> AsyncIterator[tuple[int, list[int]]]:
    """A keep-alive upstream answering GET /<mode> with one write per response; counts connections."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                mode = head.split(b" ", 2)[1].decode().strip("/")
                writer.write(_response(mode))
                await writer.drain()
                if mode == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], connections
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("mode", ["length", "interim", "chunked", "close"])
async def test_body_in_the_head_read_arrives_intact(
    proxy_server: ProxyFactory, raw_upstream: tuple[int, list[int]], mode: str
) -> None:
    port, connections = raw_upstream
    running = await proxy_server([route("r", [("127.0.0.1", port)])], options=ProxyOptions())
    want = hashlib.sha256(BODY).hexdigest()
    async with aiohttp.ClientSession() as s:
        for _ in range(3):  # sequential: keep-alive framings reuse the upstream connection
            async with s.get(running.url(f"/{mode}")) as r:
                assert r.status == 200
                assert hashlib.sha256(await r.read()).hexdigest() == want
    assert len(connections) == (3 if mode == "close" else 1)
