"""One keep-alive HTTP/1.1 connection to an upstream: an asyncio.Protocol with a minimal response parser.

Why not aiohttp's ClientSession: per request it builds URLs, header multidicts, timers and tracing
hooks that a proxy does not need; here a request is one `transport.write` of prebuilt bytes and a
response is parsed straight from the socket buffers, body chunks handed over without copying.
Flow control runs both ways: reading pauses when the consumer lags (`read_high_water`), and
writers wait for `drain()` when the kernel buffer is full.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from typing import Final, cast

from ingressctl.model.upstream_protocol import BackendTLS
from ingressctl.proxy.splice import socket_fd
from ingressctl.proxy.upstream.buffers import DETACH_MIN, ReadBuffer
from ingressctl.proxy.upstream.deadlines import Deadlines
from ingressctl.proxy.upstream.errors import UpstreamError
from ingressctl.proxy.upstream.parser import ResponseHead, check_trailer, chunk_size, parse_head

_HEAD_END: Final = b"\r\n\r\n"
_CRLF: Final = b"\r\n"

# Body framing of the response being read.
_LENGTH: Final = 0  # Content-Length: `_remaining` bytes
_CHUNKED: Final = 1
_UNTIL_CLOSE: Final = 2
_NONE: Final = 3  # no body (HEAD, 204, 304)

# Chunked decoder states.
_CH_SIZE: Final = 0  # reading "hex[;ext]\r\n"
_CH_DATA: Final = 1
_CH_DATA_CRLF: Final = 2
_CH_TRAILER: Final = 3


class UpstreamConnection(asyncio.BufferedProtocol):
    """A connection to one upstream address, reused for sequential requests."""

    __slots__ = (
        "_body_waiter",
        "_buf",
        "_ch_remaining",
        "_ch_state",
        "_chunks",
        "_deadline",
        "_deadline_what",
        "_deadlines",
        "_drain_waiter",
        "_exc",
        "_framing",
        "_head_request",
        "_head_waiter",
        "_high_water",
        "_loop",
        "_max_head",
        "_queued",
        "_rb",
        "_read_paused",
        "_remaining",
        "_skip_1xx",
        "_write_paused",
        "body_done",
        "closed",
        "got_bytes",
        "head",
        "idle_since",
        "key",
        "requests",
        "tls",
        "transport",
    )

    def __init__(
        self,
        key: tuple[str, int],
        loop: asyncio.AbstractEventLoop,
        high_water: int,
        max_head: int,
        read_buffer: ReadBuffer | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.key = key
        # The TLS settings it was made with (None: plain TCP); the pool keeps idle ones apart by them.
        self.tls: BackendTLS | None = None
        self._loop = loop
        self._high_water = high_water
        self._max_head = max_head
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.requests = 0
        self.idle_since = 0.0
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._deadlines = deadlines if deadlines is not None else Deadlines(loop)
        self._deadline = 0.0
        self._deadline_what = ""
        self._rb = read_buffer if read_buffer is not None else ReadBuffer()
        self._reset_response(head_request=False)

    # ------------------------------------------------------------ per response state

    def _reset_response(self, head_request: bool) -> None:
        self._buf = b""
        self.head: ResponseHead | None = None
        self._head_waiter: asyncio.Future[ResponseHead] | None = None
        self._body_waiter: asyncio.Future[None] | None = None
        chunks = getattr(self, "_chunks", None)
        if chunks is None:
            self._chunks: deque[bytes | memoryview] = deque()
        else:
            chunks.clear()
        self._queued = 0
        self._framing = _NONE
        self._remaining = 0
        self._ch_state = _CH_SIZE
        self._ch_remaining = 0
        self.body_done = False
        self._exc: UpstreamError | None = None
        self._read_paused = False
        self._skip_1xx = True
        self.got_bytes = False
        self._head_request = head_request

    def start_request(self, data: bytes, head_request: bool) -> None:
        """Send a request head (and maybe a small body) and get ready to read its response."""
        self._reset_response(head_request)
        self.requests += 1
        assert self.transport is not None
        self.transport.write(data)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise UpstreamError("reset", "upstream closed the connection")
        if self._write_paused:
            waiter = self._drain_waiter = self._loop.create_future()
            await waiter

    @property
    def reusable(self) -> bool:
        head = self.head
        return (
            not self.closed
            and self.body_done
            and head is not None
            and head.keep_alive
            and self._exc is None
            and not self._buf
        )

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self._cancel_timer()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._cancel_timer()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self._cancel_timer()
        if self.head is not None and self._framing == _UNTIL_CLOSE and not self.body_done:
            self.body_done = True
            self._wake_body()
        elif not self.body_done or self.head is None:
            self._fail(UpstreamError("reset", "upstream closed the connection" + (f": {exc}" if exc else "")))
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            self._drain_waiter = None
            waiter.set_exception(UpstreamError("reset", "upstream closed the connection"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles the state

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rb.view()

    def buffer_updated(self, nbytes: int) -> None:
        if (
            nbytes >= DETACH_MIN
            and self.head is not None
            and not self.body_done
            and not self._buf
            and (self._framing == _LENGTH or self._framing == _UNTIL_CLOSE)
        ):
            # A large body read: the buffer itself goes to the consumer.
            self.got_bytes = True
            self._feed_body(self._rb.detach()[:nbytes])
            return
        view = self._rb.view()
        if nbytes >= 2 * DETACH_MIN and self.head is None and not self._buf:
            # The first read of a large response: head and the start of the body. Copying it
            # whole, then slicing the body off the head, cost two 128 KiB copies (each a fresh
            # mmap with its page faults) per response, a fifth of a 1 MiB response's CPU.
            owner = view.obj
            assert isinstance(owner, bytearray)
            end = owner.find(_HEAD_END, 0, nbytes)
            if end >= 0 and nbytes - end - 4 >= DETACH_MIN:
                self.data_received(bytes(view[: end + 4]))
                if (
                    self.head is not None
                    and not self.body_done
                    and not self._buf
                    and self._exc is None
                    and (self._framing == _LENGTH or self._framing == _UNTIL_CLOSE)
                ):
                    self._feed_body(self._rb.detach()[end + 4 : nbytes])
                elif not self.closed:
                    self.data_received(bytes(view[end + 4 : nbytes]))
                return
        self.data_received(bytes(view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        if self.head is None:
            buf = self._buf + data if self._buf else data
            while True:
                end = buf.find(_HEAD_END)
                if end < 0:
                    if len(buf) > self._max_head:
                        self._fail(UpstreamError("protocol", "upstream response head too large"))
                        self.abort()
                        return
                    self._buf = buf
                    return
                try:
                    head = parse_head(buf[:end])
                except ValueError as exc:
                    self._fail(UpstreamError("protocol", str(exc)))
                    self.abort()
                    return
                buf = buf[end + 4 :]
                if 100 <= head.status < 200 and head.status != 101:
                    continue  # interim responses (100 Continue, 103) are not forwarded
                break
            self._buf = b""
            self.head = head
            if self._head_request or head.status in (204, 304) or head.status == 101:
                self._framing = _NONE
                self.body_done = True
            elif head.chunked:
                self._framing = _CHUNKED
            elif head.content_length is not None:
                self._framing = _LENGTH
                self._remaining = head.content_length
                if not self._remaining:
                    self.body_done = True
            else:
                self._framing = _UNTIL_CLOSE
                head.keep_alive = False
            waiter = self._head_waiter
            if buf and not self.body_done:
                self._feed_body(buf)
            elif buf:
                self._buf = buf  # bytes after a complete response: not reusable
            if waiter is not None:
                self._head_waiter = None
                self._cancel_timer()
                if not waiter.done():
                    waiter.set_result(head)
            return
        if self.body_done:
            self._buf += data  # unexpected bytes: the connection will not be reused
            return
        self._feed_body(data)

    # ------------------------------------------------------------ body framing

    def _feed_body(self, data: bytes | memoryview) -> None:
        framing = self._framing
        if framing == _LENGTH:
            n = len(data)
            if n >= self._remaining:
                if n > self._remaining:
                    self._buf = bytes(data[self._remaining :])
                    data = data[: self._remaining]
                self._remaining = 0
                self.body_done = True
            else:
                self._remaining -= n
            if data:
                self._chunks.append(data)
                self._queued += len(data)
        elif framing == _UNTIL_CLOSE:
            self._chunks.append(data)
            self._queued += len(data)
        else:
            try:
                self._feed_chunked(data if isinstance(data, bytes) else bytes(data))
            except ValueError as exc:
                self._fail(UpstreamError("protocol", f"invalid chunked body from upstream: {exc}"))
                self.abort()
                return
        if self._queued > self._high_water and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake_body()

    def _feed_chunked(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        self._buf = b""
        pos = 0
        size = len(buf)
        while pos < size:
            state = self._ch_state
            if state == _CH_DATA:
                take = min(self._ch_remaining, size - pos)
                piece = buf[pos : pos + take] if (pos or take != size) else buf
                self._chunks.append(piece)
                self._queued += take
                pos += take
                self._ch_remaining -= take
                if not self._ch_remaining:
                    self._ch_state = _CH_DATA_CRLF
            elif state == _CH_DATA_CRLF:
                if size - pos < 2:
                    self._buf = buf[pos:]
                    return
                if buf[pos : pos + 2] != _CRLF:
                    raise ValueError("missing CRLF after chunk data")
                pos += 2
                self._ch_state = _CH_SIZE
            else:
                end = buf.find(_CRLF, pos)
                if end < 0:
                    if size - pos > 4096:
                        raise ValueError("chunk size line too long")
                    self._buf = buf[pos:]
                    return
                line = buf[pos:end]
                pos = end + 2
                if state == _CH_TRAILER:
                    if not line:
                        self.body_done = True
                        if pos < size:
                            self._buf = buf[pos:]
                        return
                    check_trailer(line)
                    continue  # trailers are dropped
                n = chunk_size(line)
                if n == 0:
                    self._ch_state = _CH_TRAILER
                else:
                    self._ch_state = _CH_DATA
                    self._ch_remaining = n

    # ------------------------------------------------------------ consumer side

    def _fail(self, exc: UpstreamError) -> None:
        if self._exc is None:
            self._exc = exc
        waiter = self._head_waiter
        if waiter is not None:
            self._head_waiter = None
            if not waiter.done():
                waiter.set_exception(exc)
        self._wake_body()

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None:
            self._body_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _cancel_timer(self) -> None:
        self._deadlines.unwatch(self)

    def _expire(self) -> None:
        self._fail(UpstreamError("timeout", self._deadline_what))
        self.abort()

    async def read_head(self, timeout: float | None) -> ResponseHead:
        """The response head. `timeout` None: no clock yet (a request body is still being sent;
        the sender calls `start_head_timer` once the request is complete)."""
        waiting = self.head is None and self._exc is None  # (no clock started otherwise)
        try:
            return await self.wait_head(timeout)
        finally:
            if waiting:
                self._cancel_timer()

    def wait_head(self, timeout: float | None) -> Awaitable[ResponseHead]:
        """`read_head` without a coroutine of its own (the forwarder's wait on every response):
        the future data_received resolves. The response-header timer stops when the head (or a
        failure) arrives; a caller whose wait ends otherwise (cancelled) must `abort()`, which
        stops it too."""
        head = self.head
        if head is not None:
            return _arrived(head)
        if self._exc is not None:
            raise self._exc
        waiter: asyncio.Future[ResponseHead] = self._loop.create_future()
        self._head_waiter = waiter
        if timeout is not None:
            self.start_head_timer(timeout)
        return waiter

    def start_head_timer(self, timeout: float) -> None:
        """Start the response-header timeout (from the end of the request, as Traefik counts it)."""
        if self.head is None and not self.closed and not self._deadlines.watching(self):
            self._deadlines.watch(self, timeout, "no response headers from upstream in time")

    def splice_source(self, minimum: int) -> tuple[int, int] | None:
        """(socket fd, body bytes still to come) when the rest of this response's body can be left
        to the kernel: Content-Length framing, at least `minimum` bytes, nothing buffered, plain
        TCP. Reading is then paused until splice_finished()."""
        if (
            self._framing != _LENGTH
            or self.body_done
            or self._remaining < minimum
            or self._chunks
            or self._buf
            or self._exc is not None
            or self.closed
        ):
            return None
        fd = socket_fd(self.transport)
        if fd is None or self.transport is None:
            return None
        if not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        return fd, self._remaining

    def splice_finished(self) -> None:
        """The kernel moved the rest of the body: the response is complete, reading resumes."""
        self._remaining = 0
        self.body_done = True
        self.splice_abandoned()

    def splice_abandoned(self) -> None:
        """Splicing did not start (nothing was read): reading resumes for the usual path."""
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    def take_complete_body(self) -> bytes | None:
        """The whole body when it is already buffered (the small-response fast path), else None."""
        if not self.body_done or self._exc is not None:
            return None
        chunks = self._chunks
        if not chunks:
            return b""
        body = bytes(chunks[0]) if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._queued = 0
        return body

    async def read_body(self, idle_timeout: float) -> bytes | memoryview:
        """Next piece of the body (all that is buffered); b"" at its end. Raises UpstreamError."""
        chunks = self._chunks
        while not chunks:
            if self._exc is not None:
                raise self._exc
            if self.body_done:
                return b""
            waiter = self._body_waiter = self._loop.create_future()
            self._deadlines.watch(self, idle_timeout, "upstream body stalled")
            try:
                await waiter
            finally:
                self._cancel_timer()
        data: bytes | memoryview
        if len(chunks) > 1 and self._queued <= 65536:
            # Many small pieces (chunked encoding): one write downstream instead of many.
            data = b"".join(chunks)
            chunks.clear()
        else:
            data = chunks.popleft()
        self._queued -= len(data)
        if self._read_paused and self._queued <= self._high_water // 2 and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return data


async def _arrived(head: ResponseHead) -> ResponseHead:
    return head
