"""Bodies on the way through: the client's request body streamed to the upstream, and the rest
of a large response body moved to the client by splice(2) once the head has gone out.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp.web_request import BaseRequest

from ingressctl.proxy import splice
from ingressctl.proxy.exchange import BodyTap
from ingressctl.proxy.trailers import chunked_trailer_section, request_trailers
from ingressctl.proxy.upstream import UpstreamConnection, UpstreamError

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyState:
    """How far a request body got (the retry and error answers depend on it)."""

    __slots__ = ("client_error", "started", "too_large")

    def __init__(self) -> None:
        self.started = False
        self.too_large = False
        self.client_error: BaseException | None = None


async def splice_rest(
    request: BaseRequest, conn: UpstreamConnection, source: tuple[int, int], client_fd: int, idle: float
) -> bool:
    """Move the rest of the body (`source`: upstream fd, bytes left) by splice(2). False when nothing
    was moved and the caller should read the body as usual; failures mid-body raise."""
    await flush_client(request)
    try:
        await splice.splice_body(asyncio.get_running_loop(), source[0], client_fd, source[1], idle)
    except splice.NotSpliced as exc:
        conn.splice_abandoned()
        if exc.refused:
            splice.disable(str(exc))
        return False
    conn.splice_finished()
    return True


async def flush_client(request: BaseRequest) -> None:
    """Wait until everything aiohttp queued for the client (headers, first body bytes) is in the
    socket: spliced bytes go straight to the socket and must not overtake them."""
    writer = request.writer
    # aiohttp (3.11+) holds headers back to send them with the first body bytes; older versions
    # wrote them in prepare().
    send_headers = getattr(writer, "send_headers", None)
    if send_headers is not None:
        send_headers()
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client connection closed")
    if not transport.get_write_buffer_size():
        return
    # Drain to empty: with both limits at 0 the protocol stays paused until the buffer is empty.
    low, high = transport.get_write_buffer_limits()
    transport.set_write_buffer_limits(high=0, low=0)
    try:
        await writer.drain()
    finally:
        if not transport.is_closing():
            transport.set_write_buffer_limits(high=high, low=low)
    if transport.is_closing() or transport.get_write_buffer_size():
        raise ConnectionResetError("client connection closed")


async def send_body(
    request: BaseRequest,
    conn: UpstreamConnection,
    chunked: bool,
    expect_continue: bool,
    state: BodyState,
    head_timeout: float,
    idle: float,
    max_body: int | None,
    tap: BodyTap | None = None,
) -> None:
    """Stream the client's request body to the upstream (chunked when `chunked`), after a 100
    Continue when the client expects one; failures are noted in `state` (see forward). `tap` sees
    each chunk and the end of a body read whole."""
    content = request.content
    loop = asyncio.get_running_loop()
    sent = 0
    try:
        if expect_continue:
            await request.writer.write(_CONTINUE)
        async with asyncio.timeout(idle) as deadline:
            while True:
                data = await content.readany()
                if not data:
                    break
                state.started = True
                sent += len(data)
                if max_body is not None and sent > max_body:
                    # A body without Content-Length grew over the route's limit: 413 (forward).
                    state.too_large = True
                    conn.abort()
                    return
                deadline.reschedule(loop.time() + idle)
                if tap is not None:
                    tap.feed(data)
                if chunked:
                    conn.write(b"%x\r\n" % len(data) + data + b"\r\n")
                else:
                    conn.write(data)
                await conn.drain()
            if tap is not None:
                tap.end()
            if chunked:
                # An HTTP/2 client's request trailers end the chunked body (proxy/trailers.py).
                trailers = request_trailers(request)
                conn.write(chunked_trailer_section(trailers) if trailers else b"0\r\n\r\n")
        conn.start_head_timer(head_timeout)
    except UpstreamError:
        pass  # the response side reports the upstream failure
    except (TimeoutError, ConnectionError, OSError, Exception) as exc:
        # The client stopped sending (reset, timeout, malformed chunking): the upstream must
        # not take a truncated body for a complete one.
        state.client_error = exc
        conn.abort()
