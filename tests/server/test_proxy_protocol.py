"""The PROXY protocol reader on real loopback sockets: strict v1/v2 parsing, nothing read past the
header (the request after it is intact), headers arriving in pieces, and the header timeout."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ingressctl.server.proxy_listener import PeerRequestHandler, ProxyProtocolSite
from ingressctl.server.proxy_protocol import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    parse_v1,
    parse_v2,
    peek_start,
    read_header,
)

pytestmark = pytest.mark.timeout(60)

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def v2(command: int, family: int, body: bytes) -> bytes:
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


V2_INET = v2(1, 0x11, bytes([192, 0, 2, 1, 127, 0, 0, 1]) + struct.pack("!HH", 4000, 80))


@pytest.fixture
async def pair() -> AsyncIterator[tuple[socket.socket, socket.socket]]:
    """(client, server side) of a real TCP connection on loopback; the server side non-blocking."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    server.setblocking(False)
    yield client, server
    client.close()
    server.close()


@pytest.mark.parametrize(
    ("header", "client"),
    [
        (b"PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\r\n", ("192.0.2.1", 4000)),
        (b"PROXY TCP6 2001:db8::1 ::1 65535 443\r\n", ("2001:db8::1", 65535)),
        (b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 443\r\n", ("192.0.2.1", 1)),  # mapped: IPv4, as allow-lists
        (b"PROXY UNKNOWN whatever follows\r\n", None),
        (V2_INET, ("192.0.2.1", 4000)),
        (v2(0, 0x11, b"ignored"), None),  # LOCAL
        (v2(1, 0x00, b""), None),  # UNSPEC
        (v2(1, 0x31, b"\x00" * 216), None),  # AF_UNIX: no client IP
    ],
)
async def test_read_header_takes_the_header_and_not_a_byte_more(
    pair: tuple[socket.socket, socket.socket], header: bytes, client: tuple[str, int] | None
) -> None:
    sender, receiver = pair
    sender.sendall(header + REQUEST)
    parsed = await read_header(receiver)
    assert parsed.client == client
    assert await asyncio.get_running_loop().sock_recv(receiver, 1024) == REQUEST


async def test_a_header_in_pieces_is_waited_for(pair: tuple[socket.socket, socket.socket]) -> None:
    sender, receiver = pair
    for header in (b"PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\r\n", V2_INET):
        reading = asyncio.create_task(read_header(receiver))
        # Cut inside the first 15 bytes, past them, and just before the end.
        pieces = [header[:3], header[3:14], header[14:-1], header[-1:] + REQUEST]
        for piece in pieces:
            sender.sendall(piece)
            await asyncio.sleep(0.02)
        assert (await reading).client == ("192.0.2.1", 4000)
        assert await asyncio.get_running_loop().sock_recv(receiver, 1024) == REQUEST


@pytest.mark.parametrize(
    "data",
    [
        REQUEST,  # no header at all
        b"PROXY TCP4 192.0.2.1 127.0.0.1 4000\r\n",  # a port missing
        b"PROXY TCP4 192.0.2.1  127.0.0.1 4000 80\r\n",  # two spaces
        b"PROXY TCP4 2001:db8::1 127.0.0.1 4000 80\r\n",  # IPv6 address in TCP4
        b"PROXY TCP4 192.0.2.1 127.0.0.1 65536 80\r\n",
        b"PROXY TCP4 192.0.2.1 127.0.0.1 -1 80\r\n",
        b"PROXY UDP4 192.0.2.1 127.0.0.1 4000 80\r\n",
        b"PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\n",  # LF alone
        b"PROXY " + b"A" * 120 + b"\r\n",  # longer than 107 bytes
        b"PROXY TCP4 192.0.2.\xff 127.0.0.1 4000 80\r\n",
        V2_SIGNATURE + b"\x11\x11\x00\x0c" + b"\x00" * 12,  # version 1 in a v2 header
        V2_SIGNATURE + b"\x22\x11\x00\x0c" + b"\x00" * 12,  # command 2
        v2(1, 0x12, b"\x00" * 12),  # a datagram
        v2(1, 0x11, b"\x00" * 8),  # too short for two IPv4 addresses and ports
        v2(1, 0x21, b"\x00" * 12),  # too short for IPv6
        v2(1, 0x41, b""),  # family 4
    ],
)
async def test_malformed_headers_are_refused(pair: tuple[socket.socket, socket.socket], data: bytes) -> None:
    sender, receiver = pair
    sender.sendall(data + REQUEST)
    with pytest.raises(ProxyHeaderError):
        await read_header(receiver)


async def test_a_connection_closed_inside_the_header_is_refused(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sender, receiver = pair
    sender.sendall(V2_INET[:20])
    sender.shutdown(socket.SHUT_WR)
    with pytest.raises(ProxyHeaderError, match="closed before the PROXY header was complete"):
        await read_header(receiver)


@pytest.mark.parametrize(
    ("pieces", "is_header"),
    [
        ([b"GET / HTTP/1.1\r\n"], False),
        ([b"\x16\x03\x01"], False),  # a TLS ClientHello
        ([b"PR", b"I * HTTP/2.0\r\n"], False),  # undecided after "PR"
        ([b"PRO", b"XY TCP4 ..."], True),
        ([b"\r\n", b"GET / HTTP/1.1\r\n"], False),  # an empty line before a request (RFC 9112 2.2)
        ([b"\r\n\r\n", b"\x00\r\nQUIT\n\x21"], True),
    ],
)
async def test_peek_start_tells_a_header_without_reading_it(
    pair: tuple[socket.socket, socket.socket], pieces: list[bytes], is_header: bool
) -> None:
    sender, receiver = pair
    peeking = asyncio.create_task(peek_start(receiver))
    for piece in pieces:
        sender.sendall(piece)
        await asyncio.sleep(0.05)
    assert await peeking is is_header
    assert await asyncio.get_running_loop().sock_recv(receiver, 1024) == b"".join(pieces)


def test_parsers_directly() -> None:
    assert parse_v1(b"PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n") == ProxyHeader(("192.0.2.1", 1), 1)
    assert parse_v2(V2_INET) == ProxyHeader(("192.0.2.1", 4000), 2)
    with pytest.raises(ProxyHeaderError, match="shorter than its length"):
        parse_v2(V2_INET[:-1])


class _PeerServer(web.Server):
    """aiohttp's low-level server with the protocol PROXY entrypoints use (as serve's own server)."""

    def __call__(self) -> PeerRequestHandler:
        return PeerRequestHandler(self, loop=self._loop, **self._kwargs)


async def test_the_site_takes_the_header_client_and_closes_a_silent_trusted_peer() -> None:
    async def handler(request: web.BaseRequest) -> web.Response:
        return web.Response(text=str(request.remote))

    runner = web.ServerRunner(_PeerServer(handler))
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    site = ProxyProtocolSite(runner, sock, trusted=["127.0.0.1"], entrypoint="t", header_timeout=0.3)
    await site.start()
    try:
        port = sock.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Nothing sent: the server gives up on the header and closes (the read sees EOF).
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"PROXY TCP4 192.0.2.9 127.0.0.1 4000 80\r\n"
            + REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        )
        answer = await asyncio.wait_for(reader.read(), 30)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"192.0.2.9")
        writer.close()
    finally:
        await runner.cleanup()
