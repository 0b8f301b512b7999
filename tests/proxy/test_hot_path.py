"""What the request path keeps between requests (forwarded headers per client and Host, hosts
already validated, upstream heads already parsed) must never leak from one request into another."""

from __future__ import annotations

import asyncio
import json

import pytest

from ingressctl.proxy.upstream.parser import parse_head

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str = "/"
) -> tuple[int, dict[str, str]]:
    """One keep-alive request on an open connection: (status, the headers the backend saw)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1"))
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    status = int(status_line.split()[1])
    if status != 200:
        return status, {}
    return status, {k.lower(): v for k, v in json.loads(body)["headers"]}


async def test_forwarded_headers_follow_each_requests_host_on_one_connection(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    try:
        for host, port in (("a.example:8080", "8080"), ("b.example", "80"), ("a.example:8080", "8080")):
            status, seen = await _exchange(reader, writer, host)
            assert status == 200
            assert seen["host"] == host
            assert seen["x-forwarded-host"] == host
            assert seen["x-forwarded-port"] == port
            assert seen["x-forwarded-for"] == "127.0.0.1"
            assert seen["x-real-ip"] == "127.0.0.1"
            assert seen["x-forwarded-proto"] == "http"
            assert list(seen).count("x-forwarded-server") == 1
    finally:
        writer.close()
    assert len(b.peers) == 1  # one upstream connection carried all three


async def test_forwarded_headers_name_each_client_address(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    for client in ("127.0.0.1", "127.0.0.2", "127.0.0.1"):
        reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"], local_addr=(client, 0))
        try:
            status, seen = await _exchange(reader, writer, "app.example")
        finally:
            writer.close()
        assert status == 200
        assert seen["x-forwarded-for"] == client
        assert seen["x-real-ip"] == client


async def test_a_host_found_valid_before_does_not_let_an_invalid_one_through(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    try:
        assert (await _exchange(reader, writer, "app.example"))[0] == 200
        assert (await _exchange(reader, writer, "app.example"))[0] == 200
    finally:
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    try:
        assert (await _exchange(reader, writer, "app.example:port"))[0] == 400
    finally:
        writer.close()
    assert len(b.seen) == 2


def test_a_head_parsed_again_is_a_new_one_with_the_same_answer() -> None:
    data = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 3\r\nConnection: keep-alive"
    first = parse_head(data)
    first.headers.append(("Set-Cookie", "route=a"))  # what a sticky-session selector does
    first.keep_alive = False  # what the connection does to a response read until close
    second = parse_head(bytes(bytearray(data)))
    assert second is not first
    assert second.headers == [("X-A", "1"), ("Content-Length", "3")]
    assert (second.status, second.reason, second.content_length, second.keep_alive) == (200, "OK", 3, True)


def test_refused_heads_stay_refused_however_many_good_ones_came_before() -> None:
    good = b"HTTP/1.1 200 OK\r\nContent-Length: 0"
    for i in range(600):  # past the cache's bound: it starts again, answers stay the same
        assert parse_head(good + b"\r\nX-N: %d" % i).headers[-1] == ("X-N", str(i))
        assert parse_head(good).content_length == 0
    for bad in (
        good + b"\r\nX-Bad: a\x00b",
        good + b"\r\n folded",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
        b"HTTP/1.1 600 Nope",
    ):
        for _ in range(2):
            with pytest.raises(ValueError):
                parse_head(bad)
