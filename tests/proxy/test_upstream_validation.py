"""Malformed upstream response heads are refused with 502, never passed on as sent (RFC 9112).

The upstreams here are raw sockets writing hand-crafted responses; the client is a raw socket too,
so what the proxy sends is seen byte for byte (an HTTP client library would hide or reject it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .conftest import ProxyFactory, route

pytestmark = pytest.mark.timeout(30)

Upstream = tuple[int, list[int]]
UpstreamFactory = Callable[[bytes], Awaitable[Upstream]]


@pytest.fixture
async def raw_upstream() -> AsyncIterator[UpstreamFactory]:
    """Start a keep-alive upstream answering every request with `response`; counts connections."""
    servers: list[asyncio.Server] = []

    async def start(response: bytes) -> Upstream:
        connections: list[int] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(response)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1], connections

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def fetch(port: int, path: str = "/") -> tuple[int, list[bytes], bytes]:
    """One GET over a fresh client connection: (status, raw header lines, body up to the close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n".encode())
        raw = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    return int(lines[0].split(b" ")[1]), lines[1:], body


def header_values(lines: list[bytes], name: bytes) -> list[bytes]:
    return [line.partition(b":")[2].strip() for line in lines if line.partition(b":")[0].lower() == name]


async def test_invalid_header_name_is_a_502_naming_the_route(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = await raw_upstream(b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\nContent-Length: 2\r\n\r\nok")
    p = await proxy_server([route("spaced", [("127.0.0.1", port)])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    status, lines, body = await fetch(p.ports["web"])
    assert status == 502
    assert not [line for line in lines if b"Bad Header" in line]
    assert body != b"ok"
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("502 for route spaced")]
    assert len(failures) == 1
    assert "upstream sent an invalid header 'Bad Header Name: x'" in failures[0]


BODY = b"Content-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nNoColonHere\r\n" + BODY, id="no-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\n: nameless\r\n" + BODY, id="empty-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Spaced : v\r\n" + BODY, id="space-before-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-C\x01tl: v\r\n" + BODY, id="control-in-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX(Paren): v\r\n" + BODY, id="non-token-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Caf\xe9: v\r\n" + BODY, id="non-ascii-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\r\n folded: b\r\n" + BODY, id="obs-fold-space"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\r\n\tfolded\r\n" + BODY, id="obs-fold-tab"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: evil=1\r\n" + BODY, id="bare-lf"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: evil=1\r\n" + BODY, id="bare-cr"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n" + BODY, id="nul-in-value"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\n" + BODY, id="del-in-value"),
        pytest.param(b"HTTP/1.1 20 OK\r\n" + BODY, id="two-digit-status"),
        pytest.param(b"HTTP/1.1 2000 OK\r\n" + BODY, id="four-digit-status"),
        pytest.param(b"HTTP/1.1 abc OK\r\n" + BODY, id="letters-status"),
        pytest.param(b"HTTP/1.1 600 Odd\r\n" + BODY, id="status-600"),
        pytest.param(b"HTTP/1.1x 200 OK\r\n" + BODY, id="bad-version"),
        pytest.param(b"HTTP/2 200 OK\r\n" + BODY, id="http2-version"),
        pytest.param(b"ICY 200 OK\r\n" + BODY, id="not-http"),
        pytest.param(b"HTTP/1.1 200 O\nK\r\n" + BODY, id="lf-in-reason"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok", id="cl-letters"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", id="cl-negative"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nok", id="cl-superscript"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", id="cl-list"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", id="cl-differ"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", id="te-gzip"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            id="te-gzip-chunked",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n",
            id="te-twice",
        ),
    ],
)
async def test_malformed_head_is_a_502(
    raw_upstream: UpstreamFactory,
    proxy_server: ProxyFactory,
    caplog: pytest.LogCaptureFixture,
    response: bytes,
) -> None:
    port, _ = await raw_upstream(response)
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    status, lines, body = await fetch(p.ports["web"])
    assert status == 502
    assert not header_values(lines, b"set-cookie")
    assert b"ok" not in body
    assert "502 for route r" in caplog.text
    assert "upstream sent" in caplog.text


async def test_transfer_encoding_wins_over_content_length_and_the_connection_is_not_reused(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory
) -> None:
    # The Content-Length (3) contradicts the chunked body: trusting it would leave "lo world" in
    # the connection to be taken for the next response (response smuggling).
    port, connections = await raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    for _ in range(2):
        status, lines, body = await fetch(p.ports["web"])
        assert status == 200
        assert header_values(lines, b"content-length") == [b"11"]
        assert body == b"hello world"
    assert len(connections) == 2  # each response came on its own upstream connection


async def test_repeated_identical_content_length_is_forwarded_once(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory
) -> None:
    port, connections = await raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"
    )
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    for _ in range(2):
        status, lines, body = await fetch(p.ports["web"])
        assert status == 200
        assert header_values(lines, b"content-length") == [b"5"]
        assert body == b"hello"
    assert len(connections) == 1  # framing was unambiguous: the connection was kept


async def test_unusual_but_valid_heads_are_forwarded(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory
) -> None:
    port, _ = await raw_upstream(
        b"HTTP/1.1 200\r\n"  # no reason phrase, no space after the code (recipients should accept it)
        b"X_Odd.Name~1!: v\r\n"
        b"X-Tab: a\tb\r\n"
        b"X-Latin: caf\xe9\r\n"
        b"X-Empty:\r\n"
        b"X-Padded: \t padded \t\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    status, lines, body = await fetch(p.ports["web"])
    assert status == 200
    assert body == b"ok"
    assert header_values(lines, b"x_odd.name~1!") == [b"v"]
    assert header_values(lines, b"x-tab") == [b"a\tb"]
    # obs-text is let through; its bytes are not compared: aiohttp writes header values as UTF-8.
    assert len(header_values(lines, b"x-latin")) == 1
    assert header_values(lines, b"x-padded") == [b"padded"]


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "size_line",
    [
        pytest.param(b"0x5", id="0x-prefix"),
        pytest.param(b"+5", id="plus-sign"),
        pytest.param(b"-5", id="minus-sign"),
        pytest.param(b"0_5", id="underscore"),
        pytest.param(b" 5 ", id="spaces-around"),
        pytest.param(b" 5", id="leading-space"),
        pytest.param(b"5 ", id="trailing-space"),
        pytest.param(b"5\t", id="trailing-tab"),
        pytest.param(b"", id="empty"),
        pytest.param(b"5;", id="empty-extension"),
        pytest.param(b"5;a b", id="space-in-extension-name"),
        pytest.param(b'5;a="unterminated', id="unterminated-quoted-extension"),
        pytest.param(b"5;a=b\x00", id="nul-in-extension"),
        pytest.param(b"1" + b"0" * 16, id="seventeen-digits"),
    ],
)
async def test_chunk_size_outside_the_rfc_grammar_is_a_502_and_not_reused(
    raw_upstream: UpstreamFactory,
    proxy_server: ProxyFactory,
    caplog: pytest.LogCaptureFixture,
    size_line: bytes,
) -> None:
    """Python's int(x, 16) reads all of these as 5 (or some size); llhttp refuses them: a backend or
    cache reading the body differently than the proxy is a desync on a keep-alive connection."""
    port, connections = await raw_upstream(CHUNKED_HEAD + size_line + b"\r\nhello\r\n0\r\n\r\n")
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    for attempt in range(2):
        status, _, body = await fetch(p.ports["web"])
        assert status == 502, (attempt, body)
        assert b"hello" not in body
    assert "invalid chunked body from upstream" in caplog.text
    assert len(connections) == 2  # the connection was never put back into the pool


async def test_bad_trailer_line_is_refused(raw_upstream: UpstreamFactory, proxy_server: ProxyFactory) -> None:
    port, connections = await raw_upstream(CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nno colon\r\n\r\n")
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    for _ in range(2):
        status, _, body = await fetch(p.ports["web"])
        assert status == 502 and b"hello" not in body
    assert len(connections) == 2


@pytest.mark.parametrize(
    "size_line",
    [b"5", b"05", b"5;name", b"5;name=value", b"5 ; name = value", b'5;q="a \\" b";x=1', b"5\t;n"],
)
async def test_chunk_sizes_with_extensions_by_the_grammar_are_accepted(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory, size_line: bytes
) -> None:
    port, connections = await raw_upstream(
        CHUNKED_HEAD + size_line + b"\r\nhello\r\nA\r\n 0123456xy\r\n0;end=1\r\nX-Trailer: t\r\n\r\n"
    )
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    for _ in range(2):
        status, _, body = await fetch(p.ports["web"])
        assert status == 200
        assert body == b"hello 0123456xy"
    assert len(connections) == 1  # well framed: the connection was reused
