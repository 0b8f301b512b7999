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
from dataclasses import dataclass
from typing import Final, Protocol

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.upstream_protocol import HTTP2_SCHEMES
from ingressctl.proxy.answers import abort_client, error
from ingressctl.proxy.balancer import Peer
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.exchange import BodyEncoder, BodyTap, Exchange, Outcome
from ingressctl.proxy.grpc import is_grpc
from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.proxy.selection import BackendRuntime
from ingressctl.proxy.trailers import request_trailers, trailer_writer
from ingressctl.proxy.upstream.errors import UpstreamError
from ingressctl.proxy.upstream.h2client import H2Connection, H2Stream

log = logging.getLogger("ingressctl.proxy")
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class Failures(Protocol):
    """How the forwarder reports upstream failures (ingressctl.proxy.forward.Forwarder)."""

    def failed(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> StreamResponse: ...

    def upstream_error(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> None: ...

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


@dataclass(slots=True)
class H2Attempt:
    """One try of a request on an HTTP/2 backend, as the forwarder's retry loop set it up."""

    peer: Peer
    picked_at: float  # loop time the endpoint was picked (the upstream policy's latency)
    target: str  # the request target the backend is asked for (error pages name it)
    host: str
    idempotent: bool
    # Another endpoint may be asked after a failure or an answer the route retries on.
    may_retry: bool
    # A stream the backend refused (REFUSED_STREAM, or above a GOAWAY's last stream id) may be
    # asked again: it was never processed (RFC 9113 8.7), whatever the method.
    may_retry_refused: bool


@dataclass(frozen=True, slots=True)
class Retry:
    """Nothing reached the client: the forwarder asks again. `refused`: the backend refused the
    stream unprocessed; else a failure or an answer the route's proxy-next-upstream retries."""

    error: UpstreamError | None
    refused: bool


# A refused stream's body is kept to be sent again, up to one default stream window: a refusal comes
# as the backend sees the stream's head, before it could have taken more.
REPLAY_LIMIT: Final = 65535
# Request state key: the body read for a stream the backend refused, for the next attempt.
_REPLAY: Final = web.RequestKey("ingressctl.h2_replay", object)


class _Sent:
    """How far the request body got (read from the client, sent upstream)."""

    __slots__ = ("client_failed", "replay", "size", "started", "too_large")

    def __init__(self) -> None:
        self.started = False
        self.too_large = False
        self.client_failed: BaseException | None = None
        self.size = 0
        # What was read of the body while it fits in REPLAY_LIMIT (None beyond).
        self.replay: bytearray | None = bytearray()

    def read(self, data: bytes) -> None:
        self.started = True
        self.size += len(data)
        if self.replay is not None:
            if len(self.replay) + len(data) <= REPLAY_LIMIT:
                self.replay += data
            else:
                self.replay = None


async def forward_h2(
    failures: Failures,
    pool: UpstreamPool,
    request: BaseRequest,
    rp: RoutePlan,
    attempt: H2Attempt,
    conn: H2Connection,
    head: bytes,
    expect_continue: bool,
    timeouts: tuple[float, float],
    result: Outcome,
    exchange: Exchange | None = None,
) -> StreamResponse | Retry:
    """Forward over `conn` to the attempt's peer; timeouts: (response header, idle); `exchange`:
    the route's response filters (headers, compression), when it has any. The route's upstream
    policy applies as over HTTP/1.1: retries (a `Retry` is returned before any byte of the answer
    went to the client), the sticky cookie, error pages, the response size limit, the timings."""
    peer = attempt.peer
    key, label = peer.key, peer.label
    policy = rp.upstream_policy
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
        if policy is not None:
            policy.finished(key, None)
        if attempt.may_retry_refused:
            return Retry(exc, refused=True)
        return failures.failed(rp, label, exc)
    previous = request.pop(_REPLAY, None) if _REPLAY in request else None  # a refused attempt's body
    sent = previous if isinstance(previous, _Sent) else _Sent()
    max_body = policy.max_request_body if policy is not None else None
    expect_continue = expect_continue and previous is None  # the client has had its 100 already
    sender = (
        asyncio.ensure_future(
            _send_body(
                request,
                stream,
                expect_continue,
                idle,
                sent,
                max_body,
                exchange.body_tap if exchange is not None else None,
            )
        )
        if has_body
        else None
    )
    try:
        status, response_headers = await stream.response(None if has_body else header_timeout)
    except UpstreamError as exc:
        if sender is not None:
            sender.cancel()
        stream.reset()
        if policy is not None:
            policy.finished(key, None)
        if sent.too_large:
            return error(413, "Payload Too Large")
        if exc.before_send and attempt.may_retry_refused:
            # Refused unprocessed: asked again with the body read so far, when it was kept and the
            # next attempt is HTTP/2 as well (an https backend may choose HTTP/1.1 by ALPN instead).
            if not sent.started:
                return Retry(exc, refused=True)
            if sent.replay is not None and rp.scheme in HTTP2_SCHEMES:
                request[_REPLAY] = sent
                return Retry(exc, refused=True)
        if exc.kind != "timeout":
            pool.record_failure(key)
        if sent.client_failed is not None:
            return error(400, "Bad Request: request body incomplete")
        if (
            policy is not None
            and attempt.may_retry
            and not sent.started
            and (attempt.idempotent or policy.retry_non_idempotent)
            and (policy.retry_timeouts if exc.kind == "timeout" else policy.retry_errors)
        ):
            failures.upstream_error(rp, label, exc)
            return Retry(exc, refused=False)
        return failures.failed(rp, label, exc)
    except asyncio.CancelledError:
        if sender is not None:
            sender.cancel()
        stream.reset()
        if policy is not None:
            policy.release(key)
        raise
    pool.record_success(key)
    if policy is not None:
        policy.finished(key, asyncio.get_running_loop().time() - attempt.picked_at)
        head_only = (status, response_headers, header_timeout, not sent.started)
        answer = await _apply_policy(policy, pool, request, rp, attempt, head_only, stream, sender)
        if answer is not None:
            return answer
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
    if policy is not None and policy.read_timeout is not None:
        idle = policy.read_timeout  # ingress-nginx proxy-read-timeout: between two reads
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


async def _apply_policy(
    policy: BackendRuntime,
    pool: UpstreamPool,
    request: BaseRequest,
    rp: RoutePlan,
    attempt: H2Attempt,
    answer: tuple[int, list[tuple[str, str]], float, bool],
    stream: H2Stream,
    sender: asyncio.Future[None] | None,
) -> StreamResponse | Retry | None:
    """What the route's upstream policy makes of an answer's head (status, headers, the response
    header timeout, whether no request body byte was sent): a retry, an error page, a refusal of a
    body over the limit (the stream and the body being sent are cancelled for each), else None,
    with the sticky cookie added to the headers."""
    status, headers, timeout, body_unsent = answer

    def drop() -> None:
        if sender is not None:
            sender.cancel()
        stream.reset()

    if (
        status in policy.retry_statuses
        and attempt.may_retry
        and body_unsent
        and (attempt.idempotent or policy.retry_non_idempotent)
    ):
        # proxy-next-upstream http_5xx: this answer is dropped, another endpoint asked.
        drop()
        return Retry(None, refused=False)
    page = policy.error_page(status) if policy.error_pages else None
    if page is not None:
        # error-pages / custom-http-errors: this answer's body is replaced, its status kept.
        drop()
        return await page.answer(pool, request, rp.route, status, attempt.target, attempt.host, timeout)
    limit = policy.max_response_body
    if limit is not None and (_length(headers) or 0) > limit:
        drop()
        log.warning("route %s: response of %s over %d bytes refused", rp.route_id, attempt.peer.label, limit)
        return error(502, "Bad Gateway: the response is larger than the route allows")
    selector = policy.selector
    if selector is not None:
        cookie = selector.set_cookie(request, attempt.peer)
        if cookie is not None:
            headers.append(("Set-Cookie", cookie))
    return None


def _length(headers: list[tuple[str, str]]) -> int | None:
    value = next((v for n, v in headers if n.lower() == "content-length"), None)
    return int(value) if value is not None and value.isdigit() else None


async def _send_body(
    request: BaseRequest,
    stream: H2Stream,
    expect_continue: bool,
    idle: float,
    sent: _Sent,
    max_body: int | None,
    tap: BodyTap | None = None,
) -> None:
    content = request.content
    loop = asyncio.get_running_loop()
    try:
        if expect_continue:
            await request.writer.write(_CONTINUE)
        if sent.replay:
            await stream.send(bytes(sent.replay))  # what a refused attempt had read already
        async with asyncio.timeout(idle) as deadline:
            while data := await content.readany():
                sent.read(data)
                if max_body is not None and sent.size > max_body:
                    # A body without Content-Length grew over the route's limit: 413 (forward_h2).
                    sent.too_large = True
                    stream.reset()
                    return
                deadline.reschedule(loop.time() + idle)
                if tap is not None:
                    tap.feed(data)
                await stream.send(data)
            if tap is not None:
                tap.end()
            trailers = request_trailers(request)
            if trailers:
                stream.send_trailers(trailers)
            else:
                await stream.send(b"", end=True)
    except UpstreamError:
        pass  # the response side reports it
    except (TimeoutError, ConnectionError, OSError, Exception) as exc:
        # The client stopped sending: the backend must not take a truncated body for a whole one.
        sent.client_failed = exc
        with contextlib.suppress(Exception):
            stream.reset()
