"""The request loop of one HTTP/1.1 connection: aiohttp's RequestHandler.start, with each request
handled in the connection's own task.

aiohttp (3.14) wraps every request in a new asyncio Task so that context variables set by one request
do not reach the next (aiohttp #3406); on Python 3.12+ it starts that task eagerly. On Python 3.11 a
task per request costs the task itself, the scheduling of its first step and the wake-up of the
connection's task when it ends: about 3 µs of CPU per request (an asyncio micro-benchmark under
uvloop: 1.4 µs per request step without the task, 4.3–5.4 µs with it), a few per cent of a small
proxied request. ingressctl sets no context variable that outlives its request (the websocket
bridge resets its own in a `finally`), and `request.task` was the connection's task already (aiohttp
hands the request that one, not the per-request task), so cancelling, draining and aborting a request
reach the same task as before.

Everything else is aiohttp's loop as it is: resuming a paused reader as the pipelined queue drains,
the error handler for a malformed request, the lingering read of a body the handler left unread, the
keep-alive timer. Keep it in step with aiohttp's `RequestHandler.start` when aiohttp is upgraded
(tests/server/test_request_loop.py checks the behaviours it carries over).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp.helpers import ceil_timeout
from aiohttp.http_parser import RawRequestMessage
from aiohttp.http_writer import StreamWriter
from aiohttp.streams import EmptyStreamReader, StreamReader
from aiohttp.web_protocol import _PAYLOAD_ACCESS_ERROR, ERROR, RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from aiohttp.web_server import Server

Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]


async def serve_requests(conn: RequestHandler) -> None:
    """Serve the requests of `conn` one after the other until the connection is to close."""
    loop = conn._loop
    manager = conn._manager
    assert isinstance(manager, Server)
    keepalive_timeout = conn._keepalive_timeout
    resp: StreamResponse | None = None
    request_factory = conn._request_factory
    assert request_factory is not None
    assert conn._request_handler is not None
    # aiohttp's own factory (a plain BaseRequest): built here with what the connection gives every
    # request read once (see _plain_request). Another factory (an Application's) is called as is.
    fast = getattr(request_factory, "__func__", None) is Server._make_request
    if fast:
        peername = conn.peername
        connection = (conn.ssl_context, peername, conn.sockname, _remote_of(peername))

    while not conn._force_close:
        if not conn._messages:
            try:
                conn._waiter = loop.create_future()
                await conn._waiter
            finally:
                conn._waiter = None

        message, payload = conn._messages.popleft()
        # Free a parser slot; resume reading once the queue drained to its low water mark.
        if conn._parser is not None:
            conn._parser.message_consumed()
        if conn._buffer_paused and len(conn._messages) <= conn._msg_queue_resume_size:
            conn._resume_reading_if_drained()

        start = loop.time() if conn._logging_enabled else None
        manager.requests_count += 1
        writer = StreamWriter(conn, loop)
        request_handler: Handler
        if isinstance(message, _ErrInfo):
            request_handler = conn._make_error_handler(message)
            message = ERROR
        else:
            request_handler = conn._request_handler
        task = conn._task_handler or asyncio.current_task(loop)
        # An origin-form target ("/..."): aiohttp's parser made it a relative URL (the URL's own
        # `absolute`, computed per request, is not read for it).
        if fast and type(message) is RawRequestMessage and message.path[:1] == "/":
            request = _plain_request(message, payload, conn, writer, task, loop, connection)
        else:
            request = request_factory(message, payload, conn, writer, task)  # type: ignore[arg-type]
        try:
            try:
                resp, reset = await conn._handle_request(request, start, request_handler)
            except ConnectionError:
                conn.log_debug("Ignored premature client disconnection")
                break
            if reset:
                conn.log_debug("Ignored premature client disconnection 2")
                break
            conn._keepalive = bool(resp.keep_alive)
            if type(payload) is not EmptyStreamReader:  # (a request without a body has nothing to end)
                if not payload.is_eof():
                    await _linger(conn, payload)
                payload.set_exception(_PAYLOAD_ACCESS_ERROR)
        except asyncio.CancelledError:
            conn.log_debug("Ignored premature client disconnection")
            conn.force_close()
            raise
        except Exception as exc:
            conn.log_exception("Unhandled exception", exc_info=exc)
            conn.force_close()
        except BaseException:
            conn.force_close()
            raise
        finally:
            request._task = None  # type: ignore[assignment]  # no reference cycle through a traceback
            if conn.transport is None and resp is not None:
                conn.log_debug("Ignored premature client disconnection.")

        if conn._keepalive and not conn._close and not conn._force_close:
            close_time = loop.time() + keepalive_timeout
            conn._next_keepalive_close_time = close_time
            if conn._keepalive_handle is None:
                conn._keepalive_handle = loop.call_at(close_time, conn._process_keepalive)
        else:
            break

    if not conn._force_close:
        conn._task_handler = None
        if conn.transport is not None:
            conn.transport.close()


_Connection = tuple[object, object, object, str | None]


def _remote_of(peername: object) -> str | None:
    """BaseRequest.remote for a connection's peer name."""
    if peername is None:
        return None
    if isinstance(peername, list | tuple):
        return str(peername[0])
    return str(peername)


def _plain_request(
    message: RawRequestMessage,
    payload: StreamReader,
    conn: RequestHandler,
    writer: StreamWriter,
    task: object,
    loop: asyncio.AbstractEventLoop,
    connection: _Connection,
) -> BaseRequest:
    """What `BaseRequest(message, payload, conn, writer, task, loop)` builds for an origin-form
    target (tests/server/test_request_loop.py holds the two equal attribute for attribute), with
    the values the request path reads of every request already in its property cache: each is a
    pure function of the message, the payload and the connection, and computing them one property
    call at a time cost about 7,000 instructions per request."""
    request: BaseRequest = _new(BaseRequest)
    # Set in BaseRequest.__init__'s order: the instance shares the class's key layout.
    request._message = message
    request._protocol = conn
    request._payload_writer = writer
    request._payload = payload
    request._headers = headers = message.headers
    request._method = method = message.method
    request._version = version = message.version
    request._cache = {
        "method": method,
        "version": version,
        "headers": headers,
        "raw_path": message.path,
        "raw_headers": message.raw_headers,
        "keep_alive": not message.should_close,
        "body_exists": type(payload) is not EmptyStreamReader,
        "remote": connection[3],
    }
    request._rel_url = message.url
    request._state = {}
    request._task = task  # type: ignore[assignment]
    request._client_max_size = 1024**2
    request._client_max_fields = 1000
    request._loop = loop
    request._transport_sslcontext = connection[0]  # type: ignore[assignment]
    request._transport_peername = connection[1]  # type: ignore[assignment]
    request._transport_sockname = connection[2]  # type: ignore[assignment]
    return request


_new = object.__new__


async def _linger(conn: RequestHandler, payload: StreamReader) -> None:
    """The handler left part of the request body unread: read (and drop) it for up to the lingering
    time, so the next request on the connection can be parsed; close the connection otherwise."""
    loop = conn._loop
    lingering_time = conn._lingering_time
    if not conn._force_close and lingering_time:
        conn.log_debug("Start lingering close timer for %s sec.", lingering_time)
        now = loop.time()
        end_t = now + lingering_time
        try:
            while not payload.is_eof() and now < end_t:
                async with ceil_timeout(end_t - now):
                    await payload.readany()
                now = loop.time()
        except (asyncio.CancelledError, TimeoutError):
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
    if not payload.is_eof() and not conn._force_close:
        conn.log_debug("Uncompleted request.")
        conn.close()
