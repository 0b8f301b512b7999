"""HTTP/2 to clients: one asyncio protocol per connection, hyper-h2 as the state machine.

h2 turns bytes into events and events into bytes; everything else is here: reading and writing the
socket, when to grant flow-control window (only for body bytes the proxy has consumed, so a
connection buffers at most its window), waiting for the client's window before sending DATA (so a
client that does not read stops the proxy reading the backend), and the defences:

- at most `max_concurrent_streams` requests run at once; a stream over that is refused
  (REFUSED_STREAM) — counted by running handlers, not by h2's stream states, so streams the client
  reset still count until their handlers have unwound (what closed CVE-2023-44487 in Go);
- resets, refusals and malformed heads draw from a budget (ingressctl.server.h2_guard), and so do
  SETTINGS, PING, PRIORITY, empty DATA and unknown frames: an empty budget ends the connection with
  GOAWAY(ENHANCE_YOUR_CALM);
- a header block buffered across CONTINUATION frames is bounded by maxHeaderListSize (CVE-2024-27316;
  h2 itself only caps the number of frames);
- malformed request heads get RST_STREAM(PROTOCOL_ERROR) (ingressctl.server.h2_request); framing,
  HPACK and flow-control violations get h2's GOAWAY;
- a connection waits at most readHeaderTimeout for its first request and idleTimeout between requests.

Each stream runs the entrypoint's request handler (the same one HTTP/1.1 requests run) on an aiohttp
request built by ingressctl.server.h2_stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_request import BaseRequest

from ingressctl.proxy import grpc
from ingressctl.server.h2_entrypoint import H2Entrypoint
from ingressctl.server.h2_guard import Budget
from ingressctl.server.h2_hpack import RequestDecoder, ResponseEncoder
from ingressctl.server.h2_request import HeadCache, MalformedRequest, RequestHead, parse_trailers
from ingressctl.server.h2_settings import CompactSettings
from ingressctl.server.h2_stream import StreamBody, StreamFlow, StreamWriter
from ingressctl.server.limits import EntrypointGate
from ingressctl.server.peers import PeerName, TLSContext

log = logging.getLogger("ingressctl.server")

_DEFAULT_WINDOW: Final = 65535
_CONTROL_EVENTS: Final = (
    h2.events.PingReceived,
    h2.events.RemoteSettingsChanged,
    h2.events.PriorityUpdated,
    h2.events.UnknownFrameReceived,
)


class _Stream:
    __slots__ = ("body", "flow", "grpc", "id", "task", "writer")

    def __init__(
        self, stream_id: int, flow: StreamFlow, body: StreamBody | None, writer: StreamWriter
    ) -> None:
        self.id = stream_id
        self.flow = flow
        self.body = body
        self.writer = writer
        self.grpc = False
        self.task: asyncio.Task[None] | None = None


class H2ServerConnection(asyncio.Protocol):
    """One client connection speaking HTTP/2 (after ALPN h2, or h2c with prior knowledge)."""

    def __init__(
        self,
        ep: H2Entrypoint,
        *,
        peername: PeerName,
        ssl_context: TLSContext,
        gate: EntrypointGate | None = None,
    ) -> None:
        self._ep = ep
        self._settings = ep.settings
        self._peername = peername
        self._ssl_context = ssl_context
        self._gate = gate
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._window_waiters: dict[int, asyncio.Future[None]] = {}
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        self._closing = False
        self._lost = False
        self._served = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flush_pending = False
        self._heads = HeadCache()
        clock = self._loop.time
        self._resets = Budget(ep.settings.max_resets_per_second, clock)
        self._control = Budget(ep.settings.max_control_frames_per_second, clock)
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            # Checked by h2_request instead: a malformed request is a stream error, not h2's GOAWAY.
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = h2.connection.H2Connection(config=config)
        conn.remote_settings = CompactSettings(client=True)  # before any frame: still the defaults
        s = ep.settings
        conn.local_settings = CompactSettings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: s.max_concurrent_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: s.max_header_list_size,
                h2.settings.SettingCodes.HEADER_TABLE_SIZE: s.header_table_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: s.initial_stream_window,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                # WebSockets over HTTP/2 (RFC 8441), bridged to HTTP/1.1 (proxy/websocket_h2.py).
                h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        # Cheaper HPACK with the same semantics (ingressctl.server.h2_hpack), before any frame.
        conn.encoder = ResponseEncoder()
        conn.decoder = RequestDecoder()
        conn.decoder.max_header_list_size = s.max_header_list_size
        conn.decoder.max_allowed_table_size = s.header_table_size
        self._conn = conn

    # ------------------------------------------------------------ asyncio.Protocol

    def start(self, transport: asyncio.Transport, received: bytes = b"") -> None:
        """Take over `transport` from the HTTP/1.1 protocol that accepted it; `received`: bytes that
        protocol had read already (the h2c preface)."""
        transport.set_protocol(self)
        self.connection_made(transport)
        if received:
            self.data_received(received)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) or hasattr(transport, "write")
        self._transport = transport  # type: ignore[assignment]
        self._ep.connections.add(self)
        if self._ep.on_open is not None:
            self._ep.on_open(self._ep.name)
        conn = self._conn
        conn.initiate_connection()
        extra = self._settings.initial_connection_window - _DEFAULT_WINDOW
        if extra > 0:
            conn.increment_flow_control_window(extra)
        self._flush()
        self._arm_timer(self._ep.limits.read_header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._transport = None
        self._ep.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._ep.on_close is not None:
            self._ep.on_close(self._ep.name)
        if self._gate is not None:
            self._gate.release()
        gone = ConnectionResetError("client connection closed")
        for stream in list(self._streams.values()):
            self._cancel(stream, gone)
        self._wake_all(gone)
        if self._drained is not None and not self._drained.done():
            self._drained.set_exception(gone)
            self._drained.exception()  # retrieved: nobody may be waiting

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiter = self._drained
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._drained = None

    def data_received(self, data: bytes) -> None:
        if self._transport is None:
            return
        try:
            events = self._conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued the GOAWAY with the right error code.
            log.debug("HTTP/2 connection error from %s: %s", self._client(), exc)
            self._flush()
            self._close()
            return
        for event in events:
            self._on_event(event)
            if self._transport is None or self._transport.is_closing():
                return
        self._check_header_block()
        self._flush()

    def eof_received(self) -> bool | None:
        return None  # close: an HTTP/2 client half-closing has nothing more to ask

    # ------------------------------------------------------------ events

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._on_request(event)
        elif isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None and stream.body is not None:
                stream.body.feed_eof()
        elif isinstance(event, h2.events.StreamReset):
            if event.remote_reset and not self._resets.take():
                self._calm("too many streams reset")
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None:
                self._cancel(stream, ConnectionResetError("stream reset by the client"))
        elif isinstance(event, h2.events.WindowUpdated):
            if event.stream_id:
                self._wake(event.stream_id)
            else:
                self._wake_all(None)
        elif isinstance(event, _CONTROL_EVENTS):
            if not self._control.take():
                self._calm("too many control frames")
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self._wake_all(None)  # a new initial window changes every stream's window
        elif isinstance(event, h2.events.TrailersReceived):
            self._on_trailers(event)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._closing = True
            self._close_when_idle()

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id or 0
        if self._closing:
            self._refuse(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        if len(self._streams) >= self._settings.max_concurrent_streams:
            self._refuse(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        try:
            head = self._heads.parse(event.headers or ())
        except MalformedRequest as exc:
            log.debug("malformed HTTP/2 request from %s: %s", self._client(), exc)
            self._refuse(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            return
        flow = StreamFlow(self, stream_id, self._peername, self._ssl_context)
        ended = event.stream_ended is not None
        body = None if ended else StreamBody(flow, lambda n: self.acknowledge(stream_id, n), self._loop)
        writer = StreamWriter(self, stream_id, head.message.method == "HEAD")
        stream = _Stream(stream_id, flow, body, writer)
        stream.grpc = head.grpc
        self._streams[stream_id] = stream
        self._served += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        stream.task = self._loop.create_task(self._run(stream, head))

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id or 0
        data = event.data or b""
        flowed = event.flow_controlled_length or 0
        if not data and event.stream_ended is None and not self._control.take():
            self._calm("too many empty DATA frames")
            return
        stream = self._streams.get(stream_id)
        if stream is None or stream.body is None or stream.body.is_eof():
            # A stream already answered or reset: its bytes are dropped and their window given back.
            self.acknowledge(stream_id, flowed)
            return
        if flowed > len(data):  # padding is never read by anyone: grant it back at once
            self.acknowledge(stream_id, flowed - len(data))
        stream.body.feed_data(data)

    def _on_trailers(self, event: h2.events.TrailersReceived) -> None:
        """Request trailers end the body; the forwarder passes them on (proxy/trailers.py)."""
        stream_id = event.stream_id or 0
        stream = self._streams.get(stream_id)
        if stream is None or stream.body is None:
            return
        try:
            stream.body.trailers = parse_trailers(list(event.headers or ()))
        except MalformedRequest as exc:
            # RFC 9113 8.1.1: a malformed request is a stream error; its handler stops with the stream.
            log.debug("malformed HTTP/2 request trailers from %s: %s", self._client(), exc)
            self._refuse(stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
            self._cancel(stream, ConnectionResetError("malformed request trailers"))
            return
        stream.body.feed_eof()

    def _check_header_block(self) -> None:
        """CVE-2024-27316: the encoded bytes of a header block still waiting for its END_HEADERS."""
        frames = getattr(self._conn.incoming_buffer, "_headers_buffer", None)
        if frames and sum(len(f.data) for f in frames) > self._settings.max_header_list_size:
            self._calm("header block over maxHeaderListSize across CONTINUATION frames")

    # ------------------------------------------------------------ one request

    async def _run(self, stream: _Stream, head: RequestHead) -> None:
        writer = stream.writer
        request = BaseRequest(
            head.message,
            stream.body if stream.body is not None else EMPTY_PAYLOAD,
            stream.flow,  # type: ignore[arg-type]
            writer,
            asyncio.current_task(),  # type: ignore[arg-type]
            self._loop,
            client_max_size=2**20,
        )
        deadline = grpc.parse_timeout(head.message.headers.get("grpc-timeout")) if stream.grpc else None
        try:
            try:
                if deadline is None:
                    await self._answer(stream, request)
                else:
                    async with asyncio.timeout(deadline):
                        await self._answer(stream, request)
            except TimeoutError:
                if not stream.grpc:
                    raise
                writer.grpc_deadline()
        except asyncio.CancelledError:
            self.reset_stream(stream.id, h2.errors.ErrorCodes.CANCEL)
        except (ConnectionError, OSError):
            self.reset_stream(stream.id, h2.errors.ErrorCodes.CANCEL)
        except Exception as exc:
            self._internal_error(stream, head, exc)
        finally:
            self._finished(stream)

    async def _answer(self, stream: _Stream, request: BaseRequest) -> None:
        await stream.writer.answer(request, await self._ep.handler(request), stream.grpc)

    def _internal_error(self, stream: _Stream, head: RequestHead, exc: Exception) -> None:
        message = head.message
        target = f"{message.method} {message.headers.get('Host', '')}{message.path}"[:200]
        log.error(
            "500 while handling %s from %s (HTTP/2): %s: %.120s",
            target,
            self._client(),
            type(exc).__name__,
            exc,
        )
        log.debug("the error while handling %s", target, exc_info=exc)
        writer = stream.writer
        if writer.head_sent or not self.stream_open(stream.id):
            self.reset_stream(stream.id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif stream.grpc:
            writer.answer_grpc(500, "internal error at the proxy")
        else:
            writer.answer_fields([(b":status", b"500"), (b"content-length", b"0")], 500)

    def _finished(self, stream: _Stream) -> None:
        self._streams.pop(stream.id, None)
        waiter = self._window_waiters.pop(stream.id, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        body = stream.body
        if body is not None and not body.is_eof() and self.stream_open(stream.id):
            # Answered before the whole request body arrived: stop the client sending it (RFC 9113 8.1).
            self.reset_stream(stream.id, h2.errors.ErrorCodes.NO_ERROR)
        if body is not None:
            # Bytes received but never read still hold connection window: give it back.
            unread = body._size
            if unread:
                self.acknowledge(stream.id, unread)
        if not self._streams and self._transport is not None:
            if self._closing:
                self._close_when_idle()
            else:
                self._arm_timer(self._ep.limits.idle_timeout)

    def _cancel(self, stream: _Stream, exc: BaseException) -> None:
        if stream.body is not None and not stream.body.is_eof():
            stream.body.set_exception(exc)
        self._wake(stream.id, exc)
        task = stream.task
        if task is not None and not task.done():
            task.cancel()

    # ------------------------------------------------------------ StreamSink (h2_stream)

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        try:
            self._conn.send_headers(stream_id, headers, end_stream=end_stream)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
            raise ConnectionResetError(f"stream {stream_id} closed") from exc
        self._flush()

    async def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool = False) -> None:
        """`data` in DATA frames as the windows allow; END_STREAM on the last one if `end_stream`."""
        view = memoryview(data)
        conn = self._conn
        while view:
            if self._transport is None:
                raise ConnectionResetError("client connection closed")
            try:
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
                raise ConnectionResetError(f"stream {stream_id} closed") from exc
            if window <= 0:
                await self._wait_window(stream_id)
                continue
            size = min(window, len(view))
            try:
                conn.send_data(stream_id, view[:size].tobytes(), end_stream=end_stream and size == len(view))
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
                raise ConnectionResetError(f"stream {stream_id} closed") from exc
            view = view[size:]
            if view:
                self._flush_now()  # a large body: write as it goes, so pause_writing is noticed
            else:
                self._flush()
            if self._paused:
                await self.writable()

    def end_stream(self, stream_id: int) -> None:
        try:
            self._conn.end_stream(stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
            raise ConnectionResetError(f"stream {stream_id} closed") from exc
        self._flush()

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        if not self.stream_open(stream_id):
            return
        with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self._conn.reset_stream(stream_id, error_code)
        self._flush()

    def acknowledge(self, stream_id: int, size: int) -> None:
        if size <= 0 or self._transport is None:
            return
        with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self._conn.acknowledge_received_data(size, stream_id)
        self._flush()

    def stream_open(self, stream_id: int) -> bool:
        if self._transport is None:
            return False
        state = self._conn.streams.get(stream_id)
        return state is not None and not state.closed

    async def writable(self) -> None:
        if not self._paused:
            return
        if self._transport is None:
            raise ConnectionResetError("client connection closed")
        if self._drained is None:
            self._drained = self._loop.create_future()
        await asyncio.shield(self._drained)

    def extra_info(self, name: str, default: object = None) -> object:
        transport = self._transport
        if name == "peername":
            return self._peername
        return transport.get_extra_info(name, default) if transport is not None else default

    # ------------------------------------------------------------ flow control waits

    async def _wait_window(self, stream_id: int) -> None:
        waiter = self._window_waiters.get(stream_id)
        if waiter is None or waiter.done():
            waiter = self._window_waiters[stream_id] = self._loop.create_future()
        await waiter

    def _wake(self, stream_id: int, exc: BaseException | None = None) -> None:
        waiter = self._window_waiters.pop(stream_id, None)
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def _wake_all(self, exc: BaseException | None) -> None:
        for stream_id in list(self._window_waiters):
            self._wake(stream_id, exc)

    # ------------------------------------------------------------ closing

    def _flush(self) -> None:
        """Write what h2 has queued at the end of this loop iteration, not now.

        A small answer is HEADERS, DATA and END_STREAM from three calls, and several streams answer
        in the same iteration; one write for all of them is one TLS record and one send instead of
        three or more (the HTTP/2 benchmark spent a fifth of its CPU in per-frame writes).
        """
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        data = self._conn.data_to_send()
        if data and self._transport is not None:
            self._transport.write(data)

    def _refuse(self, stream_id: int, code: int) -> None:
        with contextlib.suppress(h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self._conn.reset_stream(stream_id, code)
        if not self._resets.take():
            self._calm("too many refused or malformed streams")

    def _calm(self, why: str) -> None:
        self._closing = True
        log.warning(
            "closing HTTP/2 connection from %s on entrypoint %s: %s", self._client(), self._ep.name, why
        )
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._conn.close_connection(error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
        self._flush()
        self._abort_streams()
        self._close()

    def _abort_streams(self) -> None:
        gone = ConnectionResetError("connection closed")
        for stream in list(self._streams.values()):
            self._cancel(stream, gone)

    def _close(self) -> None:
        self._flush_now()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def _close_when_idle(self) -> None:
        if not self._streams:
            self._flush()
            self._close()

    def _arm_timer(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(seconds, self._idle)

    def _idle(self) -> None:
        self._timer = None
        if self._streams or self._transport is None:
            return
        log.debug("closing idle HTTP/2 connection from %s", self._client())
        self.goaway()

    def goaway(self) -> None:
        """Graceful close: GOAWAY(NO_ERROR) naming the last stream taken; close once those finish."""
        if self._transport is None or self._closing:
            return
        self._closing = True
        # Written past h2: its close_connection() ends its state machine, and the streams in flight
        # could no longer send their answers. New streams are refused from here (_on_request).
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = self._conn.highest_inbound_stream_id
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        self._flush_now()
        if self._transport is not None:
            self._transport.write(frame.serialize())
        self._close_when_idle()

    @property
    def busy(self) -> bool:
        return bool(self._streams)

    def abort(self) -> list[str]:
        """End the connection now; returns what was cut ("GET host/path from peer")."""
        cut = [
            f"{s.writer.status or 'unanswered'} stream {s.id} from {self._client()} (HTTP/2)"
            for s in self._streams.values()
        ]
        self._abort_streams()
        if self._transport is not None:
            self._transport.abort()
        return cut

    def _client(self) -> str:
        peer = self._peername
        return str(peer[0]) if isinstance(peer, tuple) else "?"
