"""What ingressctl changes in aiohttp's per-connection protocol (web_protocol.RequestHandler).

- Malformed requests: aiohttp logs each with a full traceback at ERROR level and answers with its
  parser's message (internals, echoed client bytes). Any client could fill the log that way, so a
  parse error gets one DEBUG line and a short fixed answer instead; 431 for an oversized header line.
- Graceful shutdown: aiohttp's RequestHandler.shutdown(timeout) waits `timeout` for the handler, then
  cancels the request's *payload* and waits `timeout` again for a handler that is not reading it (a
  proxied request waiting on its upstream), so draining took two grace periods, and the requests cut
  at the end went unlogged. `drain` waits once, up to one deadline, then aborts and names the rest.

Both touch only error and shutdown paths: a good request runs exactly aiohttp's code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.bare import BareResponse

log = logging.getLogger("ingressctl.server")

# How long aborted handlers get to unwind (close their upstream connection) once cancelled.
ABORT_UNWIND_SECONDS = 0.5
GENERIC = "malformed request"
# At most this many aborted requests are named in the shutdown warning; the rest are counted.
NAMED_ABORTS = 10


class EntrypointRequestHandler(RequestHandler):
    """aiohttp's protocol with concise answers to malformed requests."""

    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        queued = len(self._messages)
        super().data_received(data)
        # A parse error in the body of the request being served (a bad chunk size) is queued by
        # aiohttp as the *next* message, and that request's body stream is left open: the proxy would
        # wait on it until the idle timeout. Fail the stream instead, so the request ends now.
        if self._current_request is not None and len(self._messages) > queued:
            self._fail_running_body()

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


def _summary_of(exc: BaseException) -> str:
    return _summary(exc) if isinstance(exc, HttpProcessingError) else repr(str(exc)[:120])


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
