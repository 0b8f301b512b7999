"""Request trailers an HTTP/2 client sends (the h2 library as the client: curl, nghttp and grpcio
send none) reach an HTTP/2 backend as trailers, and an HTTP/1.1 backend in the chunked body's trailer
section; with a Content-Length they are dropped (RFC 9110 6.5.1), and so are fields no trailer may
carry. Malformed trailers are a stream error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import h2.errors
import pytest

from tests.http2.conftest import Backend, H2Env, RawClient, Stream, start_env
from tests.proxy.h2_backend import H2Backend, start_h2_backend
from tests.serve.test_backend_protocols import app

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@dataclass
class RawHttp1Backend:
    """An HTTP/1.1 backend that keeps each request's bytes as received (aiohttp drops trailers)."""

    port: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> RawHttp1Backend:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                raw = bytearray(head)
                lower = head.lower()
                if b"transfer-encoding: chunked" in lower:
                    while True:
                        line = await reader.readuntil(b"\r\n")
                        raw += line
                        size = int(line.split(b";")[0], 16)
                        if size == 0:
                            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                                raw += trailer
                            raw += b"\r\n"
                            break
                        raw += await reader.readexactly(size + 2)
                elif b"content-length:" in lower:
                    length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
                    raw += await reader.readexactly(length)
                self.requests.append(bytes(raw))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        writer.close()


@pytest.fixture
async def trailer_env(
    tmp_path: Path, backend: Backend
) -> AsyncIterator[tuple[H2Env, H2Backend, RawHttp1Backend]]:
    h2c = await start_h2_backend()
    raw = await RawHttp1Backend().start()
    extra = (
        app("h2c", "grpc.test", h2c.port, app_protocol="kubernetes.io/h2c")
        + "---\n"
        + app("raw", "raw.test", raw.port)
    )
    env = await start_env(tmp_path, backend, extra=extra)
    yield env, h2c, raw
    await env.server.stop()
    assert h2c.server is not None and raw.server is not None
    h2c.server.close()
    raw.server.close()


TRAILERS = [
    ("x-checksum", "sha256=abc"),
    ("grpc-status-details-bin", "AAEC"),
    ("host", "evil.test"),  # routing: never in trailers, dropped
    ("authorization", "Bearer stolen"),  # credentials the middlewares never saw: dropped
]


async def post_with_trailers(
    client: RawClient, authority: str, *, length: bool, trailers: list[tuple[str, str]] = TRAILERS
) -> int:
    headers = client.request_headers("/echo", authority, "POST")
    if length:
        headers.append(("content-length", "5"))
    stream_id = client.conn.get_next_available_stream_id()
    client.streams[stream_id] = Stream()
    client.conn.send_headers(stream_id, headers)
    client.conn.send_data(stream_id, b"hello")
    client.conn.send_headers(stream_id, trailers, end_stream=True)
    await client.flush()
    return stream_id


async def test_trailers_reach_an_http2_backend(
    trailer_env: tuple[H2Env, H2Backend, RawHttp1Backend],
) -> None:
    env, _, _ = trailer_env
    client = await RawClient.connect(env.address("websecure"), tls=True)
    try:
        for length in (False, True):
            stream = await client.response(await post_with_trailers(client, "grpc.test", length=length))
            assert stream.status == 200, stream
            echo = stream.json()
            assert echo["body_len"] == 5
            assert echo["trailers"] == {"x-checksum": "sha256=abc", "grpc-status-details-bin": "AAEC"}
    finally:
        await client.close()


async def test_trailers_reach_an_http1_backend_in_the_chunked_body(
    trailer_env: tuple[H2Env, H2Backend, RawHttp1Backend],
) -> None:
    env, _, raw = trailer_env
    client = await RawClient.connect(env.address("web"), tls=False)
    try:
        stream = await client.response(await post_with_trailers(client, "raw.test", length=False))
        assert stream.status == 200 and bytes(stream.data) == b"ok"
        request = raw.requests[-1]
        assert b"Transfer-Encoding: chunked\r\n" in request
        assert request.endswith(
            b"\r\n5\r\nhello\r\n0\r\nx-checksum: sha256=abc\r\ngrpc-status-details-bin: AAEC\r\n\r\n"
        ), request
        assert b"evil.test" not in request and b"stolen" not in request
        # With a Content-Length the body is sent as it is: HTTP/1.1 has no place for the trailers.
        stream = await client.response(await post_with_trailers(client, "raw.test", length=True))
        assert stream.status == 200
        request = raw.requests[-1]
        assert request.endswith(b"\r\n\r\nhello") and b"x-checksum" not in request, request
    finally:
        await client.close()


@pytest.mark.parametrize(
    "trailers",
    [[("X-Upper", "1")], [(":path", "/other")], [("connection", "close")], [("x-bad", "a\r\nb")]],
    ids=["uppercase", "pseudo-header", "connection-specific", "crlf"],
)
async def test_malformed_trailers_are_a_stream_error(
    trailer_env: tuple[H2Env, H2Backend, RawHttp1Backend], trailers: list[tuple[str, str]]
) -> None:
    env, _, _ = trailer_env
    client = await RawClient.connect(env.address("web"), tls=False)
    try:
        bad = await post_with_trailers(client, "grpc.test", length=False, trailers=trailers)
        stream = await client.response(bad)
        assert stream.reset == h2.errors.ErrorCodes.PROTOCOL_ERROR
        # The connection goes on.
        ok = await client.response(await client.request(client.request_headers("/echo", "grpc.test")))
        assert ok.status == 200
    finally:
        await client.close()
