"""Forwarding: endpoint choice and retries over endpoints, the response relayed (spliced where the
kernel can), and upstream failures reported. The upstream request head is built in forward_head,
request bodies are sent (and large response bodies spliced) by forward_body, HTTP/2 backends are
served by forward_h2, and a small whole answer is written by relayed.

A `Forwarder` serves one entrypoint; the websocket bridge uses its public parts too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, Protocol

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.upstream_protocol import HTTP2_SCHEMES
from ingressctl.proxy import splice
from ingressctl.proxy.answers import abort_client, error, upstream_failed
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.cookies import request_cookie
from ingressctl.proxy.exchange import BodyEncoder, Exchange, HeaderEdits, Outcome
from ingressctl.proxy.forward_body import BodyState, send_body, splice_rest
from ingressctl.proxy.forward_h2 import H2Attempt, Retry, forward_h2
from ingressctl.proxy.forward_head import RequestHeads
from ingressctl.proxy.headers import TrustedNetworks
from ingressctl.proxy.observer import NULL_OBSERVER, ProxyObserver
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.pool import NegotiatedH2, UpstreamPool
from ingressctl.proxy.relayed import RelayedResponse
from ingressctl.proxy.upstream import UpstreamConnection, UpstreamError
from ingressctl.proxy.upstream.h2client import H2Connection
from ingressctl.proxy.upstream.parser import ResponseHead

log = logging.getLogger("ingressctl.proxy")

IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_BODY: Final = BodyState()


class ProxyCore(Protocol):
    """The parts of the Proxy that forwarding uses."""

    @property
    def options(self) -> ProxyOptions: ...

    @property
    def observer(self) -> ProxyObserver: ...

    @property
    def pool(self) -> UpstreamPool: ...

    @property
    def server_name(self) -> str: ...

    # The websocket bridge's client session, created on first use (ingressctl.proxy.websocket).
    ws_session: object | None


class ForwardingEntrypoint(Protocol):
    """The parts of the entrypoint that forwarding uses."""

    @property
    def name(self) -> str: ...

    @property
    def scheme(self) -> str: ...

    @property
    def trusted(self) -> TrustedNetworks: ...


class Forwarder:
    __slots__ = ("_clock", "_heads", "_observe", "_splice", "ep", "proxy")

    def __init__(self, proxy: ProxyCore, ep: ForwardingEntrypoint) -> None:
        self.proxy = proxy
        self.ep = ep
        self._observe = proxy.observer is not NULL_OBSERVER
        self._splice = proxy.options.splice
        self._clock: Callable[[], float] | None = None
        self._heads = RequestHeads(ep, proxy.server_name)

    def request_head(
        self,
        request: BaseRequest,
        method: str,
        target: str,
        host: str,
        chunked: bool,
        edits: HeaderEdits | None = None,
        upstream_host: str = "",
    ) -> bytes:
        """The upstream request head (ingressctl.proxy.forward_head.RequestHeads.build)."""
        return self._heads.build(request, method, target, host, chunked, edits, upstream_host)

    async def forward(
        self,
        request: BaseRequest,
        rp: RoutePlan,
        target: str,
        host: str,
        result: Outcome,
        exchange: Exchange | None = None,
    ) -> StreamResponse:
        proxy = self.proxy
        pool = proxy.pool
        opts = proxy.options
        method = request._method  # (BaseRequest's fields: see handler._dispatch)
        has_body = request.body_exists
        coding = request._headers.get("Transfer-Encoding")
        chunked = False
        if coding is not None:
            if coding.strip().lower() != "chunked":
                # aiohttp removed the chunked framing; any other coding (gzip, ...) would be dropped
                # silently on the way to the backend. Go's server answers the same.
                return error(501, "Not Implemented: transfer codings other than chunked")
            chunked = has_body
        elif has_body and request.version.major == 2 and "Content-Length" not in request.headers:
            # HTTP/2 frames the body itself; an HTTP/1.1 backend needs chunked framing instead.
            chunked = True
        edits = exchange.header_edits if exchange is not None else None
        own_host = exchange is not None and not exchange.pass_host and not exchange.upstream_host
        vhost = exchange.upstream_host if exchange is not None else ""
        heads = self._heads
        head = b"" if own_host else heads.build(request, method, target, host, chunked, edits, vhost)
        idempotent = method in IDEMPOTENT
        # An HTTP/1.0 client cannot take a 100 response: its expectation is ignored (RFC 9110 10.1.1).
        expect_continue = (
            has_body
            and request.version >= (1, 1)
            and request.headers.get("Expect", "").lower() == "100-continue"
        )
        # Only send_body changes it: a request without a body shares one that says "not started".
        body_state = BodyState() if has_body else _NO_BODY
        failed_key: tuple[str, int] | None = None
        # The route's upstream policy (ingressctl.proxy.selection): endpoint choice, timeouts, retries.
        policy = rp.upstream_policy
        endpoint_retry_left = 1 if policy is None else policy.retries
        head_timeout = opts.response_header_timeout
        send_idle = opts.idle_timeout
        if policy is not None:
            head_timeout = policy.read_timeout or head_timeout
            send_idle = policy.send_timeout or send_idle
        loop_time = self._clock
        if loop_time is None:
            # Once: on Python 3.11 asyncio.get_running_loop() makes a getpid() system call.
            loop_time = self._clock = asyncio.get_running_loop().time
        stale_retries_left = 2
        last_error: UpstreamError | None = None
        # The upstream's header pairs as its strict parser checked them, or edited only with pairs
        # checked when the plan was built (relayed.serialise_head's `clean`).
        clean = True
        # The sticky cookie, read once for the endpoint choice and the Set-Cookie check.
        sticky = policy.sticky_name if policy is not None else None
        cookie = request_cookie(request, sticky) if sticky is not None else None
        pinned = False  # the endpoint the sticky cookie names: the client needs no new cookie
        while True:
            if policy is None:
                peer = rp.balancer.pick(pool.is_ejected, failed_key)
            elif (selector := policy.selector) is not None:
                peer = selector.pinned(cookie, pool.is_ejected, failed_key) if cookie is not None else None
                pinned = peer is not None
                if peer is None:
                    peer = selector.pick(request, pool.is_ejected, failed_key, cookie)
            else:
                peer = rp.balancer.pick(pool.is_ejected, failed_key)
            if peer is None:
                peer = rp.balancer.pick_any(failed_key, pool.eject_remaining)
            if peer is None:
                if last_error is not None:
                    return upstream_failed(rp.route_id, rp.backend_label, result.upstream, last_error)
                log.warning("503 for route %s (%s): no usable endpoint", rp.route_id, rp.backend_label)
                return error(503, "Service Unavailable")
            result.upstream = peer.label
            picked_at = loop_time()
            if own_host:  # preserve-host false: the backend sees its own address
                head = heads.build(request, method, target, host, chunked, edits, peer.label)
            h2_conn: H2Connection | None = None
            try:
                if rp.scheme in HTTP2_SCHEMES or (rp.scheme == "https" and pool.speaks_h2(peer.key, rp.tls)):
                    connect_timeout = policy.connect_timeout if policy is not None else None
                    h2_conn = await pool.h2_connection(peer.key, rp.scheme, rp.tls, connect_timeout)
                elif (conn_or_none := pool.take_idle(peer.key, rp.tls)) is not None:
                    conn, reused = conn_or_none, True
                else:
                    connect_timeout = policy.connect_timeout if policy is not None else None
                    conn, reused = await pool.acquire(peer.key, rp.scheme, rp.tls, connect_timeout)
            except NegotiatedH2 as negotiated:
                h2_conn = negotiated.connection
            except UpstreamError as exc:
                if policy is not None:
                    policy.finished(peer.key, None)
                seconds = pool.record_failure(peer.key)
                self.upstream_error(rp, peer.label, exc)
                log.warning(
                    "route %s: upstream %s failed (%s); ejected for %.1fs",
                    rp.route_id,
                    peer.label,
                    exc,
                    seconds,
                    extra={"router": rp.route_id, "upstream": peer.label},
                )
                # A failed connect sent nothing: any method may go to another endpoint. After that,
                # only an idempotent request may (the first endpoint may have acted on it).
                retryable = idempotent or exc.before_send
                if retryable and endpoint_retry_left and not body_state.started and len(rp.balancer) > 1:
                    endpoint_retry_left -= 1
                    last_error = exc
                    failed_key = peer.key
                    if self._observe:
                        proxy.observer.on_retry(self.ep.name, rp.route_id, rp.backend_label, peer.label)
                    continue
                return upstream_failed(rp.route_id, rp.backend_label, peer.label, exc)
            if h2_conn is not None:
                # An HTTP/2 backend (proxy/forward_h2.py), under the same upstream policy and retries.
                more = endpoint_retry_left > 0 and len(rp.balancer) > 1
                attempt = H2Attempt(peer, picked_at, target, host, idempotent, more, stale_retries_left > 0)
                answer = await forward_h2(
                    self,
                    pool,
                    request,
                    rp,
                    attempt,
                    h2_conn,
                    head,
                    expect_continue,
                    (head_timeout, opts.idle_timeout),
                    result,
                    exchange,
                )
                if not isinstance(answer, Retry):
                    return answer
                if answer.refused:  # unprocessed (RFC 9113 8.7): the same endpoint may be asked again
                    stale_retries_left -= 1
                else:
                    endpoint_retry_left -= 1
                last_error = answer.error or last_error
                failed_key = peer.key if len(rp.balancer) > 1 else None
                if self._observe:
                    proxy.observer.on_retry(self.ep.name, rp.route_id, rp.backend_label, peer.label)
                continue
            conn.start_request(head, method == "HEAD")
            sender: asyncio.Task[None] | None = None
            if has_body:
                sender = asyncio.ensure_future(
                    send_body(
                        request,
                        conn,
                        chunked,
                        expect_continue,
                        body_state,
                        head_timeout,
                        send_idle,
                        policy.max_request_body if policy is not None else None,
                        exchange.body_tap if exchange is not None else None,
                    )
                )
            try:
                response_head = await conn.wait_head(None if has_body else head_timeout)
            except asyncio.CancelledError:
                # The client is gone (an HTTP/2 stream reset, the server stopping): the upstream
                # request is abandoned there too, not left running on a connection nobody reads.
                conn.abort()
                if sender is not None:
                    sender.cancel()
                raise
            except UpstreamError as exc:
                if sender is not None:
                    sender.cancel()
                conn.abort()
                if policy is not None:
                    policy.finished(peer.key, None)
                if body_state.too_large:
                    return error(413, "Payload Too Large", {"Connection": "close"})
                if (
                    reused
                    and exc.kind == "reset"
                    and not conn.got_bytes
                    and not body_state.started
                    and (idempotent or not has_body)
                    and stale_retries_left
                ):
                    # A pooled connection the upstream closed just as we reused it: try a fresh one.
                    stale_retries_left -= 1
                    continue
                if exc.kind != "timeout":
                    pool.record_failure(peer.key)
                self.upstream_error(rp, peer.label, exc)
                if body_state.client_error is not None:
                    return error(400, "Bad Request: request body incomplete")
                if (
                    policy is not None
                    and endpoint_retry_left
                    and not body_state.started
                    and (idempotent or policy.retry_non_idempotent)
                    and (policy.retry_timeouts if exc.kind == "timeout" else policy.retry_errors)
                    and len(rp.balancer) > 1
                ):
                    # proxy-next-upstream error/timeout: nothing reached the client yet.
                    endpoint_retry_left -= 1
                    last_error = exc
                    failed_key = peer.key
                    if self._observe:
                        proxy.observer.on_retry(self.ep.name, rp.route_id, rp.backend_label, peer.label)
                    continue
                return upstream_failed(rp.route_id, rp.backend_label, peer.label, exc)
            pool.record_success(peer.key)
            if policy is not None:
                if policy.answer_checks:  # (most policies: a sticky cookie, timeouts)
                    if policy.tracks:  # least-latency: learns from each answer's time
                        policy.finished(peer.key, loop_time() - picked_at)
                    if (
                        response_head.status in policy.retry_statuses
                        and endpoint_retry_left
                        and not body_state.started
                        and (idempotent or policy.retry_non_idempotent)
                        and len(rp.balancer) > 1
                    ):
                        # proxy-next-upstream http_5xx: this answer is dropped, another endpoint asked.
                        if sender is not None:
                            sender.cancel()
                        conn.abort()
                        endpoint_retry_left -= 1
                        failed_key = peer.key
                        if self._observe:
                            proxy.observer.on_retry(self.ep.name, rp.route_id, rp.backend_label, peer.label)
                        continue
                    page = policy.error_page(response_head.status) if policy.error_pages else None
                    if page is not None:
                        # error-pages / custom-http-errors: this answer's body is replaced, its status kept.
                        if sender is not None:
                            sender.cancel()
                        conn.abort()
                        return await page.answer(
                            pool, request, rp.route, response_head.status, target, host, head_timeout
                        )
                    limit = policy.max_response_body
                    if limit is not None and (response_head.content_length or 0) > limit:
                        if sender is not None:
                            sender.cancel()
                        conn.abort()
                        log.warning(
                            "route %s: response of %s over %d bytes refused", rp.route_id, peer.label, limit
                        )
                        return error(502, "Bad Gateway: the response is larger than the route allows")
                selector = policy.selector
                if selector is not None and not pinned:
                    set_cookie = selector.set_cookie(request, peer, cookie)
                    if set_cookie is not None:
                        response_head.headers.append(("Set-Cookie", set_cookie))
                        clean = False
            return await self._respond(
                request, rp, conn, response_head, sender, peer.label, result, exchange, clean
            )

    async def _respond(
        self,
        request: BaseRequest,
        rp: RoutePlan,
        conn: UpstreamConnection,
        head: object,
        sender: asyncio.Task[None] | None,
        upstream: str,
        result: Outcome,
        exchange: Exchange | None = None,
        clean: bool = False,
    ) -> StreamResponse:
        """`clean`: the head's pairs are the strict parser's, or edited only with checked pairs
        (see relayed.serialise_head); the response filters may still make it unclean."""
        assert isinstance(head, ResponseHead)
        pool = self.proxy.pool
        # aiohttp builds its CIMultiDict from the pairs once; building one here would copy twice.
        headers = head.headers
        status = head.status
        encoder: BodyEncoder | None = None
        if exchange is not None and (filters := exchange.response_filters):
            exchange.outcome.filtered = True
            encoder = exchange.filter_response(status, headers, True, head.content_length)
            clean = clean and len(filters) == exchange.clean_filters
        if status == 101:
            conn.abort()
            return upstream_failed(
                rp.route_id,
                rp.backend_label,
                upstream,
                UpstreamError("protocol", "unexpected 101 Switching Protocols"),
            )
        body = conn.take_complete_body()
        if body is not None and (sender is None or sender.done()):
            pool.release(conn)
            if encoder is not None:
                body = encoder.encode(body) + encoder.finish()
                return BareResponse(status=status, reason=head.reason, headers=headers, body=body or None)
            head_tail = exchange.head_tail if exchange is not None else None
            return RelayedResponse(status, head.reason, headers, body or None, clean, head_tail)
        response = BareStream(status=status, reason=head.reason, headers=headers)
        try:
            await response.prepare(request)
        except BaseException as exc:
            conn.abort()
            if sender is not None:
                sender.cancel()
            if isinstance(exc, ConnectionError | OSError):
                return response
            raise  # a head aiohttp refuses to write: the server answers 500 (server/protocol.py)
        idle = self.proxy.options.idle_timeout
        if rp.upstream_policy is not None and rp.upstream_policy.read_timeout is not None:
            idle = rp.upstream_policy.read_timeout  # ingress-nginx proxy-read-timeout: between two reads
        use_splice = self._splice and encoder is None and splice.enabled()
        client_fd = splice.socket_fd(request.transport) if use_splice else None
        try:
            while True:
                if client_fd is not None and (source := conn.splice_source(splice.SPLICE_MIN)):
                    if await splice_rest(request, conn, source, client_fd, idle):
                        result.size += source[1]
                        break
                    client_fd = None  # nothing was moved: this body takes the buffered path, whole
                data = await conn.read_body(idle)
                if not data:
                    break
                if encoder is not None:
                    data = encoder.encode(data)
                    if not data:
                        continue
                result.size += len(data)
                await response.write(data)
            if encoder is not None:
                tail = encoder.finish()
                result.size += len(tail)
                await response.write(tail)
        except asyncio.CancelledError:
            # The server is stopping (or aiohttp gave up on the client): the upstream connection is
            # mid-body, possibly paused for a splice; it cannot be reused.
            conn.abort()
            if sender is not None:
                sender.cancel()
            raise
        except (UpstreamError, splice.SpliceError) as exc:
            if isinstance(exc, splice.SpliceError):
                exc = UpstreamError(exc.kind, str(exc))
            conn.abort()
            if sender is not None:
                sender.cancel()
            self.failed_mid_body(request, rp, upstream, exc)
            return response
        except (ConnectionError, OSError):
            conn.abort()
            if sender is not None:
                sender.cancel()
            abort_client(request)
            return response
        if sender is not None and not sender.done():
            # The upstream answered without reading the whole request body: do not reuse it.
            sender.cancel()
            conn.close()
        else:
            pool.release(conn)
        await response.write_eof()
        return response

    # ------------------------------------------------------------ failures

    def upstream_error(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> None:
        """Count a failed upstream for the observer."""
        if self._observe:
            self.proxy.observer.on_upstream_error(
                self.ep.name, rp.route_id, rp.backend_label, upstream, exc.kind
            )

    def failed_mid_body(self, request: BaseRequest, rp: RoutePlan, upstream: str, exc: UpstreamError) -> None:
        """The response's head is gone already: cut the client connection so the truncation is visible."""
        self.upstream_error(rp, upstream, exc)
        log.warning("route %s: upstream %s failed mid-body: %s", rp.route_id, upstream, exc)
        abort_client(request)

    def failed(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> StreamResponse:
        """A failed upstream before the response started: counted, logged, answered 502 or 504."""
        self.upstream_error(rp, upstream, exc)
        return upstream_failed(rp.route_id, rp.backend_label, upstream, exc)
