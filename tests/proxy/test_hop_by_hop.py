"""Hop-by-hop headers (RFC 9110 7.6.1) stop at the proxy in both directions: every header of the one
list in proxy/headers.py, and every header the peer's Connection header names.

Requests go to a real echo backend (it reports the headers it received); responses come from a raw
upstream writing hand-crafted heads. The client is a raw socket, so nothing hides a header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ingressctl.proxy.headers import HOP_BY_HOP

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)

# The header lines that carry each header of the list (Upgrade and HTTP2-Settings as a client
# asking for h2c sends them; the proxy does not upgrade, so the request is an ordinary one).
HOP_LINES: dict[str, bytes] = {
    "connection": b"Connection: keep-alive\r\n",
    "keep-alive": b"Keep-Alive: timeout=5\r\n",
    "proxy-connection": b"Proxy-Connection: keep-alive\r\n",
    "proxy-authenticate": b'Proxy-Authenticate: Basic realm="x"\r\n',
    "proxy-authorization": b"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n",
    "te": b"TE: trailers\r\n",
    "trailer": b"Trailer: X-Checksum\r\n",
    "transfer-encoding": b"Transfer-Encoding: chunked\r\n",
    "upgrade": b"Connection: Upgrade\r\nUpgrade: h2c\r\n",
    "http2-settings": (
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
    ),
}
# Headers a Connection header names are hop-by-hop too, whatever they are called.
NAMED = b"Connection: X-Hop-One, x-hop-two\r\nX-Hop-One: 1\r\nX-Hop-Two: 2\r\n"


def test_every_header_of_the_list_is_tested() -> None:
    assert {name.decode() for name in HOP_BY_HOP} == set(HOP_LINES)


async def _exchange(port: int, raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on a fresh connection; the response is read by its Content-Length."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status, *lines = head[:-4].decode("latin-1").split("\r\n")
        headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        length = int(dict(headers)["content-length"])
        body = await asyncio.wait_for(reader.readexactly(length), 10)
    finally:
        writer.close()
    return int(status.split()[1]), headers, body


def _request(lines: bytes) -> bytes:
    chunked = b"" if b"Transfer-Encoding" in lines else b"Transfer-Encoding: chunked\r\n"
    return (
        b"POST /x HTTP/1.1\r\nHost: app.test\r\n"
        + lines
        + chunked
        + b"X-Kept: yes\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )


@pytest.mark.parametrize("name", [*HOP_LINES, "named-by-connection"])
async def test_request_hop_by_hop_header_is_not_forwarded(
    backend: BackendFactory, proxy_server: ProxyFactory, name: str
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    status, _, body = await _exchange(
        p.ports["web"], _request(NAMED if name == "named-by-connection" else HOP_LINES[name])
    )
    assert status == 200, body
    seen = json.loads(body)
    received = [(k.lower(), v) for k, v in seen["headers"]]
    names = [k for k, _ in received]
    assert ("x-kept", "yes") in received
    assert seen["body_len"] == 5
    if name == "transfer-encoding":
        # The backend gets the proxy's own framing, once, not the client's header.
        assert [v for k, v in received if k == name] == ["chunked"]
    elif name == "named-by-connection":
        assert "x-hop-one" not in names and "x-hop-two" not in names and "connection" not in names
    else:
        assert name not in names, received


async def test_connection_cannot_remove_the_framing_of_a_forwarded_body(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """Dropping Content-Length because Connection names it would let the backend read the body
    that still follows as the next request (smuggling)."""
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    raw = (
        b"POST /x HTTP/1.1\r\nHost: app.test\r\nConnection: Content-Length, Content-Type\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 18\r\n\r\nGET /smuggled HTTP"
    )
    status, _, body = await _exchange(p.ports["web"], raw)
    assert status == 200
    seen = json.loads(body)
    assert seen["body_len"] == 18
    assert [s["path_qs"] for s in b.seen] == ["/x"]


UpstreamFactory = Callable[[bytes], Awaitable[int]]


@pytest.fixture
async def raw_upstream() -> AsyncIterator[UpstreamFactory]:
    """An upstream answering every request with the given bytes (keep-alive)."""
    servers: list[asyncio.Server] = []

    async def start(response: bytes) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


RESPONSE_HOP: dict[str, bytes] = {
    **HOP_LINES,
    # A response's Upgrade without a 101 is informational ("you could upgrade"): still this hop's.
    "upgrade": b"Upgrade: h2c\r\n",
    "http2-settings": b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n",
    "named-by-connection": NAMED,
}


@pytest.mark.parametrize("name", list(RESPONSE_HOP))
async def test_response_hop_by_hop_header_is_not_passed_to_the_client(
    raw_upstream: UpstreamFactory, proxy_server: ProxyFactory, name: str
) -> None:
    lines = RESPONSE_HOP[name]
    if b"Transfer-Encoding" in lines:
        body = b"5\r\nhello\r\n0\r\n\r\n"
    else:
        lines += b"Content-Length: 5\r\n"
        body = b"hello"
    port = await raw_upstream(b"HTTP/1.1 200 OK\r\n" + lines + b"X-Kept: yes\r\n\r\n" + body)
    p = await proxy_server([route("r", [("127.0.0.1", port)])])
    status, headers, got = await _exchange(p.ports["web"], b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
    assert status == 200 and got == b"hello"
    names = [n for n, _ in headers]
    assert ("x-kept", "yes") in headers
    if name == "named-by-connection":
        assert "x-hop-one" not in names and "x-hop-two" not in names
    elif name != "connection":  # the proxy speaks for its own connection with the client
        assert name not in names, headers
    # Whatever the proxy says about its connection with the client, it is not the upstream's.
    assert ("keep-alive", "timeout=5") not in headers
    assert ("connection", "Upgrade") not in headers and ("connection", "X-Hop-One, x-hop-two") not in headers
