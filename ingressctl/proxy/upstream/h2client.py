"""The upstream HTTP/2 client: multiplexed connections to h2c and h2-over-TLS backends.

hyper-h2 keeps the protocol state (frames, HPACK, stream states, windows); this module does the
I/O and the flow-control policy, as the HTTP/1.1 connection does:

- a response's DATA is acknowledged (WINDOW_UPDATE) only as the consumer takes it, so a client
  that does not read stops the backend within one stream window (`STREAM_WINDOW`);
- a request body is sent only as far as the backend's windows allow, `send` waiting for them;
- at most `max_streams` streams per connection, and never more than the backend's
  SETTINGS_MAX_CONCURRENT_STREAMS: a new connection is used only once the backend's SETTINGS have
  arrived (`ready`), so a burst of requests cannot overrun a limit not yet known; the pool
  (proxy/pool.py) opens another connection when all are full, up to a bound, and `on_change` tells
  it when a stream slot may have freed.

The API the proxy's forwarding code (HTTP/1.1 and HTTP/2 clients alike) uses:

    # UpstreamPool (proxy/pool.py): scheme "h2c" or "h2" (or "https" once pool.speaks_h2(key, tls)),
    # tls the route's RouteBackend.tls; an H2Connection with room for one more stream.
    conn = await pool.h2_connection(key, scheme, tls)
    stream = conn.open_stream(method, authority, path, headers, scheme="http", end_stream=False)
    await stream.send(b"...", end=False); await stream.send(b"", end=True)   # or:
    stream.send_trailers([("name", "value")])                 # ends the request with trailers
    status, headers = await stream.response(timeout)         # the final response head (1xx skipped)
    async for piece in stream.chunks(idle_timeout): ...      # the body, flow-controlled
    stream.trailers()                                        # the response trailers, after the body
    stream.reset()                                           # cancel (RST_STREAM CANCEL)

Failures raise `UpstreamError` ("connect", "reset", "timeout", "protocol"); a stream refused by the
backend before processing (REFUSED_STREAM, or above a GOAWAY's last stream id) has `before_send`
set: retrying it elsewhere is safe (RFC 9113 8.7).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Final, cast

from ingressctl.proxy.upstream.errors import UpstreamError

if TYPE_CHECKING:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings

# Our receive windows: per stream what one slow client may hold buffered; per connection at least this.
STREAM_WINDOW: Final = 256 * 1024
CONNECTION_WINDOW: Final = 4 * 1024 * 1024
MAX_STREAMS: Final = 100
# Headers a proxy never sends on HTTP/2 (RFC 9113 8.2.2), besides Host (which becomes :authority).
CONNECTION_SPECIFIC: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings"}
)

Header = tuple[str, str]


def _import_h2() -> None:
    """Bind this module's `h2` to hyper-h2, with the first H2Connection: the library costs a serve
    process ~1 MB resident, and most never open an HTTP/2 connection to a backend. Every use of
    `h2` below runs on behalf of a connection, after its __init__ called this."""
    global h2
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings


class H2Stream:
    """One exchange on an upstream HTTP/2 connection; see the module docstring for its use."""

    __slots__ = (
        "_body",
        "_conn",
        "_ended",
        "_error",
        "_head",
        "_head_waiter",
        "_queued",
        "_trailers",
        "_waiter",
        "_window_waiter",
        "stream_id",
    )

    def __init__(self, conn: H2Connection, stream_id: int) -> None:
        self._conn = conn
        self.stream_id = stream_id
        self._head: tuple[int, list[Header]] | None = None
        self._head_waiter: asyncio.Future[None] | None = None
        self._body: deque[bytes] = deque()
        self._queued = 0
        self._ended = False
        self._trailers: list[Header] | None = None
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._window_waiter: asyncio.Future[None] | None = None

    # ------------------------------------------------------------ request side

    async def send(self, data: bytes, end: bool = False) -> None:
        """Send request body bytes within the backend's windows; `end` closes the request."""
        conn = self._conn
        view = memoryview(data)
        while view:
            self._raise()
            window = min(conn.h2.local_flow_control_window(self.stream_id), conn.h2.max_outbound_frame_size)
            if window <= 0:
                await self._wait_window()
                continue
            piece, view = view[:window], view[window:]
            conn.h2.send_data(self.stream_id, bytes(piece), end_stream=end and not view)
            conn.flush()
            await conn.drain()
        if end and not data:
            self._raise()
            conn.h2.end_stream(self.stream_id)
            conn.flush()

    def send_trailers(self, trailers: Iterable[Header]) -> None:
        """End the request with trailer fields (after its body), as a trailing HEADERS frame."""
        self._raise()
        block = [(n.lower().encode("latin-1"), v.encode("utf-8", "surrogateescape")) for n, v in trailers]
        try:
            self._conn.h2.send_headers(self.stream_id, block, end_stream=True)
        except h2.exceptions.ProtocolError as exc:
            raise UpstreamError("protocol", f"request trailers not sendable over HTTP/2: {exc}") from None
        self._conn.flush()

    async def _wait_window(self) -> None:
        waiter = self._window_waiter = self._conn.loop.create_future()
        try:
            await waiter
        finally:
            self._window_waiter = None

    # ------------------------------------------------------------ response side

    async def response(self, timeout: float | None = None) -> tuple[int, list[Header]]:
        """The final response head: status and headers (pseudo-headers left out)."""
        while self._head is None:
            self._raise()
            waiter = self._head_waiter = self._conn.loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await waiter
            except TimeoutError:
                self.reset()
                raise UpstreamError("timeout", "no response headers from upstream in time") from None
        return self._head

    async def read(self, idle_timeout: float | None = None) -> bytes:
        """The next piece of the body (all that is buffered); b"" at its end."""
        while not self._body:
            if self._ended:
                return b""
            self._raise()
            waiter = self._waiter = self._conn.loop.create_future()
            try:
                async with asyncio.timeout(idle_timeout):
                    await waiter
            except TimeoutError:
                self.reset()
                raise UpstreamError("timeout", "upstream body stalled") from None
        data = b"".join(self._body) if len(self._body) > 1 else self._body[0]
        self._body.clear()
        self._queued = 0
        self._conn.consumed(self.stream_id, len(data))
        return data

    async def chunks(self, idle_timeout: float | None = None) -> AsyncIterator[bytes]:
        while data := await self.read(idle_timeout):
            yield data

    def trailers(self) -> list[Header] | None:
        """The response trailers (grpc-status, ...), once the body has ended; None when there were none."""
        return self._trailers

    @property
    def ended(self) -> bool:
        return self._ended

    def reset(self, code: int = 0x8) -> None:  # CANCEL (RFC 9113 §7)
        """Cancel the exchange (RST_STREAM); the connection stays usable for the other streams."""
        if self._queued:
            # Bytes received but never read still hold the connection's window: give them back.
            self._conn.consumed(self.stream_id, self._queued)
            self._body.clear()
            self._queued = 0
        if self._ended and self._error is None:
            self._conn.forget(self.stream_id)
            return
        if self._error is None:
            self._error = UpstreamError("reset", "stream cancelled")
        self._conn.reset(self.stream_id, code)

    # ------------------------------------------------------------ fed by the connection

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _wake(self) -> None:
        for name in ("_waiter", "_head_waiter", "_window_waiter"):
            waiter = getattr(self, name)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def on_head(self, status: int, headers: list[Header]) -> None:
        self._head = (status, headers)
        self._wake()

    def on_data(self, data: bytes) -> None:
        self._body.append(data)
        self._queued += len(data)
        self._wake()

    def on_end(self, trailers: list[Header] | None = None) -> None:
        if trailers is not None:
            self._trailers = trailers
        else:
            self._ended = True
        self._wake()

    def on_window(self) -> None:
        waiter = self._window_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, error: UpstreamError) -> None:
        if self._error is None and not (self._ended and self._head is not None):
            self._error = error
        self._wake()


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection to an upstream address, shared by up to `max_streams` streams."""

    def __init__(
        self, key: tuple[str, int], loop: asyncio.AbstractEventLoop, max_streams: int = MAX_STREAMS
    ) -> None:
        self.key = key
        self.loop = loop
        self.max_streams = max_streams
        _import_h2()
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_inbound_headers=True
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2Stream] = {}
        self.closed = False
        self.going_away = False
        self.idle_since = loop.time()
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Set once the backend's first SETTINGS frame has arrived (its stream limit is known).
        self.ready: asyncio.Future[None] = loop.create_future()
        # Called when a stream ends, the limits change or the connection goes: room may have freed.
        self.on_change: Callable[[], None] | None = None

    # ------------------------------------------------------------ capacity

    @property
    def available(self) -> bool:
        if self.closed or self.going_away:
            return False
        limit = min(self.max_streams, self.h2.remote_settings.max_concurrent_streams)
        return len(self.streams) < limit

    def open_stream(
        self,
        method: str,
        authority: str,
        path: str,
        headers: Iterable[tuple[str, str] | tuple[bytes, bytes]],
        scheme: str = "http",
        end_stream: bool = False,
    ) -> H2Stream:
        """Send a request's head. Header names are lowercased; connection-specific ones (and TE other
        than "trailers") are left out, as RFC 9113 8.2.2 requires. str values are sent as Latin-1."""
        if not self.available:
            raise UpstreamError("connect", "upstream HTTP/2 connection has no room", before_send=True)
        stream_id = self.h2.get_next_available_stream_id()
        block: list[tuple[bytes, bytes]] = [
            (b":method", method.encode("latin-1")),
            (b":scheme", scheme.encode("latin-1")),
            (b":authority", authority.encode("latin-1", "replace")),
            (b":path", path.encode("utf-8", "surrogateescape")),
        ]
        for name, value in headers:
            bname = (name.encode("latin-1") if isinstance(name, str) else name).lower()
            bvalue = value.encode("latin-1", "replace") if isinstance(value, str) else value
            if bname.startswith(b":") or bname.decode("latin-1") in CONNECTION_SPECIFIC:
                continue
            if bname == b"te" and bvalue.strip().lower() != b"trailers":
                continue
            block.append((bname, bvalue))
        stream = self.streams[stream_id] = H2Stream(self, stream_id)
        try:
            self.h2.send_headers(stream_id, block, end_stream=end_stream)
        except h2.exceptions.ProtocolError as exc:
            del self.streams[stream_id]
            raise UpstreamError(
                "protocol", f"request not sendable over HTTP/2: {exc}", before_send=True
            ) from None
        self.flush()
        return stream

    # ------------------------------------------------------------ writing

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise UpstreamError("reset", "upstream closed the connection")
        if self._write_paused:
            waiter = self.loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def consumed(self, stream_id: int, size: int) -> None:
        """The consumer took `size` bytes of a stream's body: open the windows by as much."""
        if self.closed or not size:
            return
        with contextlib.suppress(h2.exceptions.StreamClosedError, KeyError):
            self.h2.acknowledge_received_data(size, stream_id)
        self.flush()

    def reset(self, stream_id: int, code: int) -> None:
        self.streams.pop(stream_id, None)
        if not self.closed:
            with contextlib.suppress(h2.exceptions.StreamClosedError, KeyError, h2.exceptions.ProtocolError):
                self.h2.reset_stream(stream_id, code)
            self.flush()
        self._maybe_idle()

    def forget(self, stream_id: int) -> None:
        self.streams.pop(stream_id, None)
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.streams:
            self.idle_since = self.loop.time()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self.h2.close_connection()
                self.flush()
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0,
            },
        )
        self.h2.initiate_connection()
        # At least a full stream window for every stream it may carry: a client that does not read
        # holds its own stream (STREAM_WINDOW), never the connection's other streams.
        window = min(max(CONNECTION_WINDOW, self.max_streams * STREAM_WINDOW), 2**31 - 1)
        self.h2.increment_flow_control_window(window - 65535)
        self.flush()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        error = UpstreamError("reset", "upstream closed the connection" + (f": {exc}" if exc else ""))
        self._fail_all(error)
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)
        if not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()  # retrieved: the pool may have stopped waiting for it
        self._changed()

    def _fail_all(self, error: UpstreamError) -> None:
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.fail(error)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail_all(UpstreamError("protocol", f"upstream broke HTTP/2: {exc}"))
            self.flush()
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                status, headers = _split_head(event.headers or [])
                stream.on_head(status, headers)
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id or 0)
            data = event.data or b""
            if stream is None:
                # A cancelled stream's data still counts against the connection window.
                with contextlib.suppress(Exception):
                    self.h2.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id or 0)
            elif data:
                stream.on_data(data)
                padding = (event.flow_controlled_length or 0) - len(data)
                if padding > 0:
                    self.consumed(stream.stream_id, padding)
            elif event.flow_controlled_length:
                self.consumed(stream.stream_id, event.flow_controlled_length)
        elif isinstance(event, h2.events.TrailersReceived):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream.on_end(_latin1(event.headers or []))
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.pop(event.stream_id or 0, None)
            if stream is not None:
                stream.on_end()
            self._maybe_idle()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.pop(event.stream_id or 0, None)
            if stream is not None:
                refused = event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
                stream.fail(
                    UpstreamError(
                        "reset", f"upstream reset the stream ({event.error_code!r})", before_send=refused
                    )
                )
            self._maybe_idle()
        elif isinstance(event, h2.events.WindowUpdated):
            targets = self.streams.values() if not event.stream_id else [self.streams.get(event.stream_id)]
            for stream in targets:
                if stream is not None:
                    stream.on_window()
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            if not self.ready.done():
                self.ready.set_result(None)
            for stream in self.streams.values():
                stream.on_window()  # a new initial window size may open every stream
            self._changed()  # a higher stream limit makes room
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.going_away = True
            last = event.last_stream_id if event.last_stream_id is not None else 0
            for stream_id in [s for s in self.streams if s > last]:
                self.streams.pop(stream_id).fail(
                    UpstreamError("reset", "upstream is going away (GOAWAY)", before_send=True)
                )
            if not self.streams and self.transport is not None:
                self.transport.close()
            self._changed()


def _latin1(headers: Iterable[tuple[str | bytes, str | bytes]]) -> list[Header]:
    return [
        (
            n.decode("latin-1") if isinstance(n, bytes) else n,
            v.decode("latin-1") if isinstance(v, bytes) else v,
        )
        for n, v in headers
    ]


def _split_head(headers: Iterable[tuple[str | bytes, str | bytes]]) -> tuple[int, list[Header]]:
    status = 0
    out: list[Header] = []
    for name, value in _latin1(headers):
        if name == ":status":
            status = int(value)
        elif not name.startswith(":"):
            out.append((name, value))
    return status, out
