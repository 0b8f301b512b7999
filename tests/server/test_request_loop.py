"""serve's HTTP/1.1 request loop (server/request_loop.py, aiohttp's loop without a task per request)
keeps what aiohttp's gave: keep-alive and pipelined requests answered in order, an unread request body
read past so the next request on the connection is served, a failing handler answered 500 without
taking the connection's next requests down, and a request still in flight when the client leaves
seen to its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.server.protocol import EntrypointRequestHandler

pytestmark = pytest.mark.timeout(30)

Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]


class _ServeProtocolServer(web.Server):
    def __call__(self) -> RequestHandler:
        return EntrypointRequestHandler(self, loop=self._loop, **self._kwargs)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    runners: list[web.ServerRunner] = []

    async def start(handler: Handler) -> int:
        runner = web.ServerRunner(_ServeProtocolServer(handler, access_log=None), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        assert site._server is not None
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


async def _read_responses(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    """`count` responses with Content-Length bodies, head and body each."""
    out = []
    for _ in range(count):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        out.append(head + await asyncio.wait_for(reader.readexactly(length), 10))
    return out


async def test_pipelined_and_keep_alive_requests_are_answered_in_order(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def handler(request: BaseRequest) -> StreamResponse:
        await asyncio.sleep(0)  # each handler suspends once, as a proxied request does
        return web.Response(text=request.path)

    port = await serve(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n" % i for i in range(5)))
        answers = await _read_responses(reader, 5)
        assert [a.rsplit(b"\r\n\r\n", 1)[1] for a in answers] == [b"/%d" % i for i in range(5)]
        writer.write(b"GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
        (again,) = await _read_responses(reader, 1)
        assert again.startswith(b"HTTP/1.1 200 OK\r\n") and again.endswith(b"/again")
    finally:
        writer.close()


async def test_an_unread_request_body_is_read_past_for_the_next_request(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def handler(request: BaseRequest) -> StreamResponse:
        return web.Response(text=f"{request.method} {request.path}")  # the body is never read

    port = await serve(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        body = b"x" * 5000
        writer.write(b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body))
        (first,) = await _read_responses(reader, 1)
        assert first.endswith(b"POST /upload")
        writer.write(body)  # sent after the answer: the server reads it while lingering
        writer.write(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
        (second,) = await _read_responses(reader, 1)
        assert second.startswith(b"HTTP/1.1 200 OK\r\n") and second.endswith(b"GET /next")
    finally:
        writer.close()


async def test_a_failing_handler_is_a_500_and_the_next_connection_is_served(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def handler(request: BaseRequest) -> StreamResponse:
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        return web.Response(text="fine")

    port = await serve(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /boom HTTP/1.1\r\nHost: a\r\n\r\n")
        (failed,) = await _read_responses(reader, 1)
        assert failed.startswith(b"HTTP/1.1 500 ")
    finally:
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        (ok,) = await _read_responses(reader, 1)
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n") and ok.endswith(b"fine")
    finally:
        writer.close()


async def test_a_request_in_flight_runs_to_its_end_when_the_client_leaves(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def handler(request: BaseRequest) -> StreamResponse:
        started.set()
        await release.wait()  # the upstream answering late
        finished.append(request.path)
        return web.Response(text="late")

    port = await serve(handler)
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.wait_for(started.wait(), 10)
    writer.close()
    await asyncio.sleep(0.05)  # the server sees the connection gone
    release.set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not finished:  # aiohttp does not cancel handlers when the client leaves (no handler_cancellation)
        assert loop.time() < deadline, "the handler never finished"
        await asyncio.sleep(0.01)
    assert finished == ["/slow"]


async def test_the_loop_builds_the_request_aiohttp_builds(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    """The request the loop builds for an origin-form target (its property cache filled ahead) is
    attribute for attribute the one aiohttp's BaseRequest builds from the same parts, and answers
    every property the proxy reads the same; an absolute-form target takes aiohttp's factory."""
    seen: list[tuple[BaseRequest, BaseRequest]] = []

    async def handler(request: BaseRequest) -> StreamResponse:
        reference = BaseRequest(
            request._message,
            request._payload,
            request._protocol,
            request._payload_writer,
            request._task,
            request._loop,
        )
        # Compared before any property of either is read (reading fills the cache).
        assert {k: v for k, v in vars(request).items() if k != "_cache"} == {
            k: v for k, v in vars(reference).items() if k != "_cache"
        }
        assert list(vars(request)) == list(vars(reference))  # same attribute order (key sharing)
        seen.append((request, reference))
        return web.Response(text="ok")

    port = await serve(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        await _read_responses(reader, 1)
    finally:
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST http://other/x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
        writer.write(b"GET /y HTTP/1.0\r\nHost: h\r\n\r\n")
        await _read_responses(reader, 2)
    finally:
        writer.close()
    assert len(seen) == 3
    for request, reference in seen:
        for name in (
            "method",
            "version",
            "headers",
            "raw_path",
            "raw_headers",
            "keep_alive",
            "body_exists",
            "remote",
            "path",
            "host",
            "url",
            "secure",
        ):
            assert getattr(request, name) == getattr(reference, name), name
    assert [r.keep_alive for r, _ in seen] == [False, True, False]
    assert [r.body_exists for r, _ in seen] == [False, True, False]
    assert seen[1][0].host == "other"
