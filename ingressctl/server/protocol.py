"""What ingressctl changes in aiohttp's per-connection protocol (web_protocol.RequestHandler).

- Malformed requests: aiohttp logs each with a full traceback at ERROR level and answers with its
  parser's message (internals, echoed client bytes). Every client could fill the log that way, so a
  parse error gets one DEBUG line and a short fixed answer instead; 431 for an oversized header line.
- Graceful shutdown: aiohttp's RequestHandler.shutdown(timeout) waits `timeout` for the handler, then
  cancels the request's *payload* and waits `timeout` again for a handler that is not reading it (a
  proxied request waiting on its upstream), so draining took two grace periods, and the requests cut
  at the end went unlogged. `drain` waits once, up to one deadline, then aborts and names the rest.

- Limits (server/limits.py): a connection over the entrypoint's maxConnections gets a 503 and is
  closed; a request head must arrive within readHeaderTimeout (from the connection's start, or
  from the first byte of a request after a keep-alive wait); a connection ends after
  maxPipelinedRequests requests in a row that were each sent before the previous answer was
  finished. aiohttp already holds the next request while an answer waits on a full socket (its
  write_eof drains), but the kernel's socket buffers hold thousands of small answers: without the
  depth cap a client pipelining without reading had the proxy forward thousands of requests.
- Pipelining: a valid request followed in the same read by garbage is served, then the garbage is
  answered 400 (aiohttp's parser raised on the garbage and lost the requests parsed before it).

A good request that arrives in one read pays a few attribute checks for all of this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.http_parser import HttpRequestParser, RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE, RequestHandler, RequestPayloadError, _ErrInfo
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.config import ConnectionLimits
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.entrypoint import ConnectionMemo
from ingressctl.server.h2_entrypoint import PREFACE, H2Entrypoint
from ingressctl.server.limits import (
    BUSY_RESPONSE,
    HEADER_TIMEOUT_RESPONSE,
    EntrypointGate,
)
from ingressctl.server.peers import PeerName
from ingressctl.server.request_loop import serve_requests

log = logging.getLogger("ingressctl.server")

# How long aborted handlers get to unwind (close their upstream connection) once cancelled.
ABORT_UNWIND_SECONDS = 0.5
GENERIC = "malformed request"
# At most this many aborted requests are named in the shutdown warning; the rest are counted.
NAMED_ABORTS = 10
_HEAD_END = b"\r\n\r\n"
# A refused or timed-out connection is closed when the client closes its side, or after this long.
LINGER_SECONDS = 1.0


class EntrypointRequestHandler(RequestHandler, ConnectionMemo):
    """aiohttp's protocol with concise answers to malformed requests, and the entrypoint's limits."""

    __slots__ = (
        "_at_boundary",
        "_auto_decompress",
        "_depth",
        "_gate",
        "_h2",
        "_h2c_first",
        "_last_body",
        "_pipelined",
        "host_answers",
    )

    def __init__(
        self,
        manager: web.Server,
        *,
        gate: EntrypointGate | None = None,
        h2: H2Entrypoint | None = None,
        **kwargs: Any,  # aiohttp's own RequestHandler options, passed through untouched
    ) -> None:
        limits = gate.limits if gate is not None else ConnectionLimits()
        kwargs.setdefault("keepalive_timeout", limits.idle_timeout)
        super().__init__(manager, **kwargs)
        self._gate = gate
        # HTTP/2 for this entrypoint (ingressctl.server.h2_connection): after ALPN h2 on TLS, or on
        # a plain entrypoint with h2c when the first bytes are the HTTP/2 preface.
        self._h2 = h2
        self._h2c_first = h2 is not None and h2.settings.h2c
        self._auto_decompress: bool = kwargs.get("auto_decompress", True)
        # Requests in the current pipeline: each one sent before the previous response was finished.
        self._depth = 0
        self._pipelined = False
        # The parser stands between two requests (nothing of one is buffered): see _recover.
        self._at_boundary = True
        # The body stream of the last request parsed (its end means the next bytes are a new head).
        self._last_body: StreamReader | None = None
        self.host_answers = {}

    async def start(self) -> None:
        # aiohttp's request loop without a task per request (server/request_loop.py).
        await serve_requests(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate = self._gate
        if gate is not None and not gate.admit(self._loop):
            self._refuse(transport)
            return
        if self._h2 is not None and _alpn(transport) == "h2":
            self._manager = None  # never registered with aiohttp: the HTTP/2 protocol takes over
            self._start_h2(cast(asyncio.Transport, transport), b"")
            return
        if gate is not None:
            gate.wait_head(self, self._loop)
        super().connection_made(transport)

    def h2_peer(self, transport: asyncio.BaseTransport) -> PeerName:
        """The client address an HTTP/2 connection of this transport serves requests for."""
        peer: PeerName = transport.get_extra_info("peername")
        return peer

    def _start_h2(self, transport: asyncio.Transport, received: bytes) -> None:
        assert self._h2 is not None
        # Imported with the first HTTP/2 connection: the h2 library costs ~1 MB resident, and an
        # entrypoint that never sees one (most HTTP/1.1 traffic) need not hold it.
        from ingressctl.server.h2_connection import H2ServerConnection

        conn = H2ServerConnection(
            self._h2,
            peername=self.h2_peer(transport),
            ssl_context=transport.get_extra_info("sslcontext"),
            gate=self._gate,
        )
        conn.start(transport, received)

    def _switch_to_h2c(self, data: bytes) -> None:
        """The HTTP/2 preface on a plain entrypoint with h2c: aiohttp forgets the connection (its
        gate slot passes to the HTTP/2 protocol) and HTTP/2 reads it from the first byte."""
        transport = cast(asyncio.Transport, self.transport)
        gate = self._gate
        if gate is not None:
            gate.head_arrived(self)
        self._gate = None
        task = self._task_handler
        self.transport = None  # aiohttp's teardown below must not close it
        self.connection_lost(None)
        if task is not None:
            task.cancel()  # aiohttp's request loop, not started yet on Python < 3.12
        self._gate = gate
        self._start_h2(transport, data)

    def _refuse(self, transport: asyncio.BaseTransport) -> None:
        """Over maxConnections: answer 503 and close, reading (and dropping) what the client sends
        meanwhile: closing with its request unread would reset the connection, and the reset can
        destroy the 503 before the client reads it."""
        self._manager = None  # never registered: connection_lost has nothing to undo
        self._close = True  # data_received drops everything
        # uvloop's transports implement asyncio.Transport without subclassing it.
        writer = cast(asyncio.Transport, transport)
        writer.write(BUSY_RESPONSE)
        if writer.can_write_eof():
            writer.write_eof()
        self._loop.call_later(LINGER_SECONDS, writer.close)

    def connection_lost(self, exc: BaseException | None) -> None:
        gate = self._gate
        if gate is not None and self._manager is not None:
            gate.release()
            gate.head_arrived(self)
        super().connection_lost(exc)

    def head_timed_out(self) -> None:
        """The request head did not arrive within readHeaderTimeout (a slow or stalled client)."""
        if self.transport is None or self._force_close:
            return
        peer = self.peername
        client = peer[0] if isinstance(peer, tuple) else "?"
        log.debug("closing connection from %s: no complete request head in time", client)
        if self._current_request is None and not self._messages and not self._request_in_progress:
            # Half-close and linger, dropping what still comes (as for a refused connection).
            self._close = True
            self.transport.write(HEADER_TIMEOUT_RESPONSE)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self._loop.call_later(LINGER_SECONDS, self.force_close)
        else:  # a pipelined head trickling in behind a request being answered: finish that one
            self.close()

    def data_received(self, data: bytes) -> None:
        if self._close or self._force_close:
            return  # closing (or refused): aiohttp drops the bytes too
        if self._h2c_first:
            self._h2c_first = False
            if data[:3] == b"PRI" and PREFACE.startswith(data[: len(PREFACE)]):
                self._switch_to_h2c(data)
                return
        queued = len(self._messages)
        at_boundary = self._at_boundary
        super().data_received(data)
        added = len(self._messages) - queued
        request = self._current_request
        if added:
            last = self._messages[-1]
            self._last_body = last[1]
            if isinstance(last[0], _ErrInfo):
                if added == 1 and at_boundary and _HEAD_END in data:
                    self._recover(data)
                self._at_boundary = False
            else:
                # Between requests again only if this read ended exactly after a complete request.
                self._at_boundary = (
                    data.endswith(_HEAD_END)
                    and last[1].is_eof()
                    and len(self._messages) < MAX_MSG_QUEUE_SIZE - 1
                )
            if self._gate is not None:
                self._gate.head_arrived(self)
        elif data:
            self._at_boundary = False
            gate = self._gate
            # The first bytes of a request head that did not arrive whole: its deadline starts (not
            # for the body of the last request, which may not have reached its handler yet).
            body = self._last_body
            if (
                gate is not None
                and (body is None or body.is_eof())
                and not self._upgraded
                and self._payload_parser is None
                and not gate.waiting_head(self)
            ):
                gate.wait_head(self, self._loop)
        # A parse error in the body of the request being served (a bad chunk size) is queued by
        # aiohttp as the *next* message, and that request's body stream is left open: the proxy would
        # wait on it until the idle timeout. Fail the stream instead, so the request ends now.
        if request is not None and added:
            self._fail_running_body()

    def _recover(self, data: bytes) -> None:
        """The read that began at a request boundary held complete requests and then garbage: aiohttp's
        parser raised on the garbage and dropped the requests before it. Parse the read again with a
        fresh parser, one head at a time, and queue the complete requests before the error (nginx,
        HAProxy and Go serve those, then refuse the rest)."""
        parser = HttpRequestParser(
            self,
            self._loop,
            self._read_bufsize,
            max_line_size=self.max_line_size,
            max_field_size=self.max_field_size,
            max_headers=self.max_headers,
            payload_exception=RequestPayloadError,
            auto_decompress=self._auto_decompress,
        )
        recovered: list[tuple[RawRequestMessage, StreamReader]] = []
        pos = 0
        try:
            while (end := data.find(_HEAD_END, pos)) >= 0 and len(recovered) < MAX_MSG_QUEUE_SIZE - 1:
                messages, upgraded, _ = parser.feed_data(data[pos : end + 4])
                pos = end + 4
                recovered.extend(messages)
                if upgraded:
                    return  # an upgrade's bytes are not requests: leave the refusal as it is
        except HttpProcessingError:
            pass
        complete = []
        for message in recovered:
            if not message[1].is_eof():  # the error came inside this request's body: not served
                break
            complete.append(message)
        if complete:
            error = self._messages.pop()
            self._messages.extend(complete)
            self._messages.append(error)

    async def _handle_request(
        self,
        request: BaseRequest,
        start_time: float | None,
        request_handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
    ) -> tuple[StreamResponse, bool]:
        gate = self._gate
        if gate is None:
            return await super()._handle_request(request, start_time, request_handler)
        # A request already waiting when the previous response was finished was pipelined: the
        # client sent it without reading that response. Past the pipeline depth the connection ends
        # after the answers already given; the client retries the requests it still wants (RFC 9112
        # 9.3.2). A client that reads before sending starts again at 1.
        self._depth = self._depth + 1 if self._pipelined else 1
        if self._depth > gate.limits.max_pipelined_requests:
            self._end_pipeline(gate.limits.idle_timeout)
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            self._pipelined = bool(self._messages)

    def _end_pipeline(self, idle_timeout: float) -> None:
        transport = self.transport
        log.debug("closing connection from %s: more than maxPipelinedRequests pipelined", self.peername)
        self.close()
        if transport is not None:
            # Closing waits for the answers to be sent; a client that never reads them would hold
            # the connection (and its buffer) forever.
            self._loop.call_later(idle_timeout, transport.abort)
        raise ConnectionResetError("pipeline depth exceeded")

    def _fail_running_body(self) -> None:
        error = self._messages[-1][0]
        request = self._current_request
        if not isinstance(error, _ErrInfo) or request is None or request.content.is_eof():
            return
        log.debug("malformed request body from %s: %s", request.remote, _summary_of(error.exc))
        # Answered by the running request (its body fails: the proxy says 400), not as a second
        # response after it; and the stream ends, so aiohttp does not linger reading it.
        self._messages.pop()
        request.content.set_exception(error.exc)
        request.content.feed_eof()
        self.close()  # the parser cannot find the next request after a broken body

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if exc is not None and status == 500 and not isinstance(exc, HttpProcessingError):
            return self._internal_error(request, exc, "handling")
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        # Some of a response already went out: the connection can only be dropped (as aiohttp does).
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot answer a malformed request")
        status, body, reason = _answer(exc)
        if reason == GENERIC:
            log.debug("malformed request from %s: %s", request.remote, _summary(exc))
        else:
            log.debug("malformed request from %s: %s (%s)", request.remote, reason, _summary(exc))
        resp = BareResponse(status=status, text=body)
        resp.force_close()
        return resp

    async def finish_response(
        self, request: BaseRequest, resp: StreamResponse, start_time: float | None
    ) -> tuple[StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        except (ValueError, TypeError, UnicodeError, LookupError) as exc:
            # The response cannot be written as built (aiohttp refuses a header value with a CR or
            # LF, say): aiohttp would log a traceback and drop the connection, for every request.
            try:
                fallback = self._internal_error(request, exc, "writing the response to")
            except ConnectionError:  # part of it went out already: the connection can only end
                self.force_close()
                return resp, True
            return await super().finish_response(request, fallback, start_time)

    def _internal_error(self, request: BaseRequest, exc: BaseException | None, doing: str) -> StreamResponse:
        """One log line (the traceback only at DEBUG level) and a plain 500 that closes the connection."""
        target = f"{request.method} {request.headers.get('Host', '')}{request.path}"[:200]
        log.error("500 while %s %s from %s: %s", doing, target, request.remote, _summary_of(exc))
        log.debug("the error while %s %s", doing, target, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot answer with an error")
        resp = BareResponse(status=500, text="Internal Server Error\n")
        resp.force_close()
        return resp


def _alpn(transport: asyncio.BaseTransport) -> str | None:
    ssl_object = transport.get_extra_info("ssl_object")
    return ssl_object.selected_alpn_protocol() if ssl_object is not None else None


def _answer(exc: HttpProcessingError) -> tuple[int, str, str]:
    """(status, body, reason for the log) for a parse error; never the parser's own message."""
    if isinstance(exc, LineTooLong):
        return 431, "Request Header Fields Too Large\n", "header or request line too long"
    if isinstance(exc, BadHttpMethod):
        reason = "bad method (not HTTP?)"
    elif isinstance(exc, BadStatusLine):
        reason = "bad request line"
    elif exc.message.startswith("Pause on PRI"):  # llhttp stops at an HTTP/2 preface
        reason = "HTTP/2 prior knowledge is not supported"
    else:
        reason = GENERIC
    return 400, f"Bad Request: {reason}\n", reason


def _summary_of(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, HttpProcessingError):
        return _summary(exc)
    return f"{type(exc).__name__}: {str(exc)[:120]!r}"


def _summary(exc: HttpProcessingError) -> str:
    # The parser's message says what was wrong, then (after a blank line) echoes the client's bytes:
    # only the first part goes to the log, in one line; repr() keeps client-chosen characters (in a
    # too-long line's message) from forging log lines.
    text = (exc.message or type(exc).__name__).split("\n\n", 1)[0]
    if isinstance(exc, LineTooLong):  # "Got more than N bytes when reading: <the line>"
        text = text.split(" when reading", 1)[0]
    return repr(" ".join(text.split()).rstrip(":")[:120])


# ---------------------------------------------------------------- shutdown


async def drain(servers: Sequence[web.Server], deadline: float) -> list[str]:
    """Wait (until the loop time `deadline`) for requests in flight on `servers`' connections, then
    abort those still running; returns what was aborted ("GET host/path from peer").

    Call after the listeners are closed and `pre_shutdown()` marked every connection to close after
    its current request, so no connection starts another.
    """
    loop = asyncio.get_running_loop()
    while (remaining := deadline - loop.time()) > 0:
        waiting: dict[asyncio.Future[None], RequestHandler] = {}
        for conn in _busy(servers):
            # The future _handle_request resolves when its request ends (what RequestHandler.shutdown
            # waits on), created only now so that requests pay nothing for it.
            future: asyncio.Future[None] = loop.create_future()
            conn._handler_waiter = future
            waiting[future] = conn
        if not waiting:
            return []
        await asyncio.wait(waiting, timeout=remaining)
        for future, conn in waiting.items():
            if future.done() and conn._handler_waiter is future:
                conn._handler_waiter = None
        # Another round: a request queued before the listeners closed may have started meanwhile.
    late = _busy(servers)
    described = [_describe(conn) for conn in late]
    tasks = [task for conn in late if (task := _abort(conn)) is not None]
    if tasks:
        await asyncio.wait(tasks, timeout=ABORT_UNWIND_SECONDS)
    return described


def aborted_message(described: Sequence[str], grace: float) -> str:
    """The shutdown warning naming the requests cut at the end of the grace period."""
    shown = ", ".join(described[:NAMED_ABORTS])
    more = f" and {len(described) - NAMED_ABORTS} more" if len(described) > NAMED_ABORTS else ""
    noun = "request" if len(described) == 1 else "requests"
    return f"aborted {len(described)} {noun} still in flight after the {grace:g}s grace period: {shown}{more}"


def _busy(servers: Sequence[web.Server]) -> list[RequestHandler]:
    return [conn for server in servers for conn in server.connections if conn._request_in_progress]


def _describe(conn: RequestHandler) -> str:
    request = conn._current_request
    peer = conn.peername
    client = peer[0] if isinstance(peer, tuple) else "?"
    if request is None:  # between its handler returning and the response being finished
        return f"a response being finished to {client}"
    # The Host header, not request.host: without one that would look up this machine's FQDN.
    target = f"{request.method} {request.headers.get('Host', '')}{request.path}"
    return f"{target[:200]} from {client}"


def _abort(conn: RequestHandler) -> asyncio.Task[None] | None:
    request = conn._current_request
    # The connection's task runs the request handler's task and cancels it when cancelled; once the
    # client is gone aiohttp forgets it on the protocol, but the request still holds it.
    task = conn._task_handler or (request.task if request is not None else None)
    if task is not None and not task.done():
        task.cancel()
    conn.force_close()
    return task if task is not None and not task.done() else None
