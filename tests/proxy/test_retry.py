"""When a failed request is tried again on another endpoint or connection.

A connection that could not be established carried no byte of the request, so any method may be
retried elsewhere (as ingress-nginx and Traefik do); once the request may have reached an
upstream, only requests that are safe to repeat are. (A GET and a POST to a refusing endpoint going
to the other one: test_forwarding.py, test_connect_failure_retries_other_endpoint_and_ejects.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ingressctl.proxy import ProxyOptions
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.proxy.upstream import UpstreamError
from tests.support.ports import free_port

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


async def test_a_refused_connect_says_nothing_was_sent() -> None:
    dead = ("127.0.0.1", free_port())
    pool = UpstreamPool(ProxyOptions())
    try:
        with pytest.raises(UpstreamError) as info:
            await pool.acquire(dead)
    finally:
        pool.close()
    assert info.value.kind == "connect"
    assert info.value.before_send


@pytest.fixture
async def drop_second() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An upstream that answers the first request of each connection with keep-alive, then reads
    the second one whole (head and Content-Length body) and closes without answering: a pooled
    connection that dies with a request in it."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for answer in (True, False):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                received.append(head.split(b" ", 1)[0])
                if answer:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], received
    server.close()
    await server.wait_closed()


async def test_after_the_request_was_sent_only_idempotent_requests_are_retried(
    proxy_server: ProxyFactory, drop_second: tuple[int, list[bytes]]
) -> None:
    port, received = drop_second
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/")) as r:
            assert r.status == 200
        # The pooled connection takes the GET and dies: repeated on a fresh connection.
        async with s.get(p.url("/")) as r:
            assert r.status == 200 and await r.read() == b"ok"
        assert received == [b"GET", b"GET", b"GET"]
        # Now a POST with a body on the (again pooled) connection: it reached the upstream, which
        # may have acted on it, so it is not sent again.
        async with s.post(p.url("/"), data=b"payload") as r:
            assert r.status == 502
    assert received == [b"GET", b"GET", b"GET", b"POST"]


async def test_a_post_that_reached_an_endpoint_is_not_retried_on_another(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Takes the whole request, then closes without a response.
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.partition(b":")[2])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        received.append(length)
        writer.close()

    received: list[int] = []
    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    good = await backend("good")
    try:
        swallower = ("127.0.0.1", server.sockets[0].getsockname()[1])
        p = await proxy_server([route("r", [swallower, good.addr])])
        async with aiohttp.ClientSession() as s, s.post(p.url("/"), data=b"payload") as r:
            assert r.status == 502
        assert received == [7]
        assert good.seen == []
    finally:
        server.close()
        await server.wait_closed()
