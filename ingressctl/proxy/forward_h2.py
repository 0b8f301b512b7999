"""An HTTP/1.1 client's request forwarded to an HTTP/2 backend (h2c, h2, or https that chose h2).

The request head is the one `Forwarder.request_head` builds for HTTP/1.1 backends (forwarded
headers and all, one truth), turned into an HTTP/2 header block. Bodies stream both ways with flow
control: the request body is sent as the backend's windows allow, and the response body is
acknowledged to the backend only once written to the client. Response trailers reach HTTP/2
clients unchanged (proxy/trailers.py: gRPC's grpc-status and metadata); aiohttp's HTTP/1.1 writer
cannot carry them and they are dropped for HTTP/1.1 clients. Request trailers an HTTP/2 client sent
end the request stream the same way (a trailing HEADERS frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final, Protocol

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import abort_client, error
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.exchange import BodyEncoder, Exchange, Outcome
from ingressctl.proxy.grpc import is_grpc
from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.pool import Key, UpstreamPool
from ingressctl.proxy.trailers import request_trailers, trailer_writer
from ingressctl.proxy.upstream.errors import UpstreamError
from ingressctl.proxy.upstream.h2client import H2Connection, H2Stream

log = logging.getLogger("ingressctl.proxy")
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class Failures(Protocol):
    """How the forwarder reports upstream failures (ingressctl.proxy.forward.Forwarder)."""

    def failed(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> StreamResponse: ...

    def failed_mid_body(
        self, request: BaseRequest, rp: RoutePlan, upstream: str, exc: UpstreamError
    ) -> None: ...


def h2_request(head: bytes) -> tuple[str, str, str, list[tuple[bytes, bytes]]]:
    """(method, target, authority, headers) of an HTTP/1.1 request head built for the upstream."""
    lines = head.split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target = rest.rsplit(b" ", 1)[0]
    authority = ""
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"host":
            authority = value.strip().decode("latin-1")
            continue
        headers.append((lname, value.strip()))
    return (
        method.decode("latin-1"),
        target.decode("utf-8", "surrogateescape"),
        authority,
        headers,
    )


async def forward_h2(
    failures: Failures,
    pool: UpstreamPool,
    request: BaseRequest,
    rp: RoutePlan,
    peer: tuple[Key, str],
    conn: H2Connection,
    head: bytes,
    expect_continue: bool,
    timeouts: tuple[float, float],
    result: Outcome,
    exchange: Exchange | None = None,
) -> StreamResponse:
    """Forward over `conn` to the peer (key, label); timeouts: (response header, idle);
    `exchange`: the route's response filters (headers, compression), when it has any."""
    key, label = peer
    header_timeout, idle = timeouts
    method, target, authority, headers = h2_request(head)
    if is_grpc(request.headers.get("Content-Type")):
        # gRPC servers expect it ("te: trailers" says the client reads trailers); hop-by-hop, so the
        # HTTP/1.1 head above left it out.
        headers.append((b"te", b"trailers"))
    has_body = request.body_exists
    scheme = "http" if rp.scheme == "h2c" else "https"
    try:
        stream = conn.open_stream(method, authority, target, headers, scheme=scheme, end_stream=not has_body)
    except UpstreamError as exc:
        return failures.failed(rp, label, exc)
    client_failed: list[BaseException] = []
    sender = (
        asyncio.ensure_future(_send_body(request, stream, expect_continue, idle, client_failed))
        if has_body
        else None
    )
    try:
        status, response_headers = await stream.response(None if has_body else header_timeout)
    except UpstreamError as exc:
        if sender is not None:
            sender.cancel()
        stream.reset()
        if exc.kind != "timeout":
            pool.record_failure(key)
        if client_failed:
            return error(400, "Bad Request: request body incomplete")
        return failures.failed(rp, label, exc)
    except asyncio.CancelledError:
        if sender is not None:
            sender.cancel()
        stream.reset()
        raise
    pool.record_success(key)
    encoder: BodyEncoder | None = None
    if exchange is not None and exchange.response_filters:
        exchange.outcome.filtered = True
        response_headers = list(response_headers)
        encoder = exchange.filter_response(status, response_headers, True, _length(response_headers))
    sink = trailer_writer(request)
    if stream.ended and (sender is None or sender.done()) and (sink is None or not stream.trailers()):
        body = await stream.read()
        if encoder is not None:
            body = encoder.encode(body) + encoder.finish()
        result.size += len(body)
        return BareResponse(status=status, headers=response_headers, body=body or None)
    response = BareStream(status=status, headers=response_headers)
    try:
        await response.prepare(request)
        while data := await stream.read(idle):
            if encoder is not None and not (data := encoder.encode(data)):
                continue
            result.size += len(data)
            await response.write(data)
        if encoder is not None:
            tail = encoder.finish()
            result.size += len(tail)
            await response.write(tail)
    except UpstreamError as exc:
        stream.reset()
        failures.failed_mid_body(request, rp, label, exc)
        return response
    except (ConnectionError, OSError):
        stream.reset()
        abort_client(request)
        return response
    except BaseException:
        stream.reset()
        raise
    finally:
        if sender is not None and not sender.done():
            sender.cancel()
    trailers = stream.trailers()
    if trailers and sink is not None:
        await sink.write_trailers(trailers)
    await response.write_eof()
    return response


def _length(headers: list[tuple[str, str]]) -> int | None:
    value = next((v for n, v in headers if n.lower() == "content-length"), None)
    return int(value) if value is not None and value.isdigit() else None


async def _send_body(
    request: BaseRequest,
    stream: H2Stream,
    expect_continue: bool,
    idle: float,
    client_failed: list[BaseException],
) -> None:
    content = request.content
    loop = asyncio.get_running_loop()
    try:
        if expect_continue:
            await request.writer.write(_CONTINUE)
        async with asyncio.timeout(idle) as deadline:
            while data := await content.readany():
                deadline.reschedule(loop.time() + idle)
                await stream.send(data)
            trailers = request_trailers(request)
            if trailers:
                stream.send_trailers(trailers)
            else:
                await stream.send(b"", end=True)
    except UpstreamError:
        pass  # the response side reports it
    except (TimeoutError, ConnectionError, OSError, Exception) as exc:
        # The client stopped sending: the backend must not take a truncated body for a whole one.
        client_failed.append(exc)
        with contextlib.suppress(Exception):
            stream.reset()
