"""Forwarding: the upstream request head (forwarded headers included), retries over endpoints,
request and response bodies relayed (spliced where the kernel can), and upstream failures reported.

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
from ingressctl.proxy.exchange import BodyEncoder, Exchange, HeaderEdits, Outcome
from ingressctl.proxy.forward_h2 import forward_h2
from ingressctl.proxy.headers import FORWARDED, HOP_BY_HOP, TrustedNetworks, connection_tokens, host_port
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
_REQUEST_DROP: Final = HOP_BY_HOP | {b"expect"}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
# Forwarded-header blocks kept (per client address and Host); past this many the cache restarts.
_FORWARDED_KEPT: Final = 1024
_METHODS: Final = {m: m.encode() for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}


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
    __slots__ = ("_clock", "_fixed_forwarded", "_forwarded", "_observe", "_splice", "ep", "proxy")

    def __init__(self, proxy: ProxyCore, ep: ForwardingEntrypoint) -> None:
        self.proxy = proxy
        self.ep = ep
        self._observe = proxy.observer is not NULL_OBSERVER
        self._splice = proxy.options.splice
        self._clock: Callable[[], float] | None = None
        self._fixed_forwarded = f"X-Forwarded-Server: {proxy.server_name}\r\n".encode("latin-1", "replace")
        # (client address, Host) -> the forwarded headers that end the head (_forwarded_tail).
        self._forwarded: dict[tuple[str, str], bytes] = {}

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
        """Request line and headers for the upstream, forwarded headers included; `edits` from
        the route's middlewares (never the framing, hop-by-hop or forwarded headers);
        `upstream_host`: the Host the backend sees instead of the client's (upstream-vhost, or its
        own address)."""
        ep = self.ep
        raw = request.raw_headers
        drop: frozenset[bytes] = _REQUEST_DROP
        added: list[bytes] = []
        if upstream_host:
            drop = drop | {b"host"}
            added.append(b"Host: " + upstream_host.encode("latin-1", "replace") + b"\r\n")
        parts = [
            _METHODS.get(method) or method.encode("latin-1"),
            b" ",
            target.encode("utf-8", "surrogateescape"),
        ]
        parts.append(b" HTTP/1.1\r\n")
        conn_value = request.headers.get("Connection")
        if conn_value:
            tokens = connection_tokens(conn_value.encode("latin-1"))
            if tokens:
                drop = drop | tokens
        trusted_peer = False
        peer = request.remote or ""
        if ep.trusted and ep.trusted.contains(peer):
            trusted_peer = True
        incoming: dict[bytes, bytes] | None = {} if trusted_peer else None
        has_host = False
        absolute_form = request.raw_path[:1] != "/"
        for name, value in raw:
            lname = name.lower()
            if lname in drop:
                continue
            if lname in FORWARDED:
                if incoming is not None:
                    previous = incoming.get(lname)
                    incoming[lname] = previous + b", " + value if previous else value
                continue
            if lname == b"host":
                if absolute_form:  # the target's authority is the host: sent below instead
                    continue
                has_host = True
            elif edits and lname in edits:
                continue
            parts += (name, b": ", value, b"\r\n")
        if edits:
            for lname, edit in edits.items():
                if edit is not None and lname not in drop and lname not in FORWARDED and lname != b"host":
                    parts += (edit[0], b": ", edit[1], b"\r\n")
        if not has_host and not upstream_host:
            parts.append(b"Host: " + host.encode("latin-1", "replace") + b"\r\n")
        parts += added
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        if incoming:
            peer_b = peer.encode()
            host_b = host.encode("latin-1", "replace")
            xff = incoming.get(b"x-forwarded-for")
            parts += (b"X-Forwarded-For: ", xff + b", " + peer_b if xff else peer_b, b"\r\n")
            parts += (
                b"X-Forwarded-Proto: ",
                incoming.get(b"x-forwarded-proto") or ep.scheme.encode(),
                b"\r\n",
            )
            parts += (b"X-Forwarded-Host: ", incoming.get(b"x-forwarded-host") or host_b, b"\r\n")
            port = incoming.get(b"x-forwarded-port")
            if port is None:
                port = str(host_port(host, 443 if ep.scheme == "https" else 80)).encode()
            parts += (b"X-Forwarded-Port: ", port, b"\r\n")
            parts += (b"X-Real-Ip: ", incoming.get(b"x-real-ip") or peer_b, b"\r\n")
            parts.append(self._fixed_forwarded)
        else:
            # The same for every request of a client and Host: built once, ends the head.
            key = (peer, host)
            tail = self._forwarded.get(key)
            if tail is None:
                tail = self._forwarded_tail(peer, host)
            parts.append(tail)
            return b"".join(parts)
        parts.append(b"\r\n")
        return b"".join(parts)

    def _forwarded_tail(self, peer: str, host: str) -> bytes:
        """The forwarded headers set from the connection alone (no trusted incoming ones), the
        end of the head included; kept for the next request of the same client and Host."""
        scheme = self.ep.scheme
        port = host_port(host, 443 if scheme == "https" else 80)
        peer_b = peer.encode()
        tail = b"".join(
            (
                b"X-Forwarded-For: ",
                peer_b,
                b"\r\nX-Forwarded-Proto: ",
                scheme.encode(),
                b"\r\nX-Forwarded-Host: ",
                host.encode("latin-1", "replace"),
                b"\r\nX-Forwarded-Port: %d\r\nX-Real-Ip: " % port,
                peer_b,
                b"\r\n",
                self._fixed_forwarded,
                b"\r\n",
            )
        )
        cache = self._forwarded
        if len(cache) >= _FORWARDED_KEPT:  # many clients (or Host values): start again
            cache.clear()
        cache[(peer, host)] = tail
        return tail

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
        method = request.method
        has_body = request.body_exists
        coding = request.headers.get("Transfer-Encoding")
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
        head = b"" if own_host else self.request_head(request, method, target, host, chunked, edits, vhost)
        idempotent = method in IDEMPOTENT
        # An HTTP/1.0 client cannot take a 100 response: its expectation is ignored (RFC 9110 10.1.1).
        expect_continue = (
            has_body
            and request.version >= (1, 1)
            and request.headers.get("Expect", "").lower() == "100-continue"
        )
        body_state = _BodyState()
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
        while True:
            if policy is None:
                peer = rp.balancer.pick(pool.is_ejected, failed_key)
            else:
                peer = policy.pick(request, rp.balancer, pool.is_ejected, failed_key)
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
                head = self.request_head(request, method, target, host, chunked, edits, peer.label)
            h2_conn: H2Connection | None = None
            try:
                if rp.scheme in HTTP2_SCHEMES or (rp.scheme == "https" and pool.speaks_h2(peer.key, rp.tls)):
                    h2_conn = await pool.h2_connection(peer.key, rp.scheme, rp.tls)
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
                if policy is not None:
                    # The upstream policy's cookie, retries and pages are not applied over HTTP/2 yet.
                    policy.release(peer.key)
                # An HTTP/2 backend (proxy/forward_h2.py): no endpoint retry once the stream is open.
                return await forward_h2(
                    self,
                    pool,
                    request,
                    rp,
                    (peer.key, peer.label),
                    h2_conn,
                    head,
                    expect_continue,
                    (head_timeout, opts.idle_timeout),
                    result,
                    exchange,
                )
            conn.start_request(head, method == "HEAD")
            sender: asyncio.Task[None] | None = None
            if has_body:
                sender = asyncio.ensure_future(
                    self._send_body(
                        request,
                        conn,
                        chunked,
                        expect_continue,
                        body_state,
                        head_timeout,
                        send_idle,
                        policy.max_request_body if policy is not None else None,
                    )
                )
            try:
                response_head = await conn.read_head(None if has_body else head_timeout)
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
                if selector is not None:
                    cookie = selector.set_cookie(request, peer)
                    if cookie is not None:
                        response_head.headers.append(("Set-Cookie", cookie))
            return await self._respond(request, rp, conn, response_head, sender, peer.label, result, exchange)

    async def _send_body(
        self,
        request: BaseRequest,
        conn: UpstreamConnection,
        chunked: bool,
        expect_continue: bool,
        state: _BodyState,
        head_timeout: float,
        idle: float,
        max_body: int | None,
    ) -> None:
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
                    if chunked:
                        conn.write(b"%x\r\n" % len(data) + data + b"\r\n")
                    else:
                        conn.write(data)
                    await conn.drain()
                if chunked:
                    conn.write(b"0\r\n\r\n")
            conn.start_head_timer(head_timeout)
        except UpstreamError:
            pass  # the response side reports the upstream failure
        except (TimeoutError, ConnectionError, OSError, Exception) as exc:
            # The client stopped sending (reset, timeout, malformed chunking): the upstream must
            # not take a truncated body for a complete one.
            state.client_error = exc
            conn.abort()

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
    ) -> StreamResponse:
        assert isinstance(head, ResponseHead)
        pool = self.proxy.pool
        # aiohttp builds its CIMultiDict from the pairs once; building one here would copy twice.
        headers = head.headers
        status = head.status
        encoder: BodyEncoder | None = None
        if exchange is not None and exchange.response_filters:
            exchange.outcome.filtered = True
            encoder = exchange.filter_response(status, headers, True, head.content_length)
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
            return RelayedResponse(status, head.reason, headers, body or None)
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
                    if await _splice_rest(request, conn, source, client_fd, idle):
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


class _BodyState:
    __slots__ = ("client_error", "started", "too_large")

    def __init__(self) -> None:
        self.started = False
        self.too_large = False
        self.client_error: BaseException | None = None


async def _splice_rest(
    request: BaseRequest, conn: UpstreamConnection, source: tuple[int, int], client_fd: int, idle: float
) -> bool:
    """Move the rest of the body (`source`: upstream fd, bytes left) by splice(2). False when nothing
    was moved and the caller should read the body as usual; failures mid-body raise."""
    await _flush_client(request)
    try:
        await splice.splice_body(asyncio.get_running_loop(), source[0], client_fd, source[1], idle)
    except splice.NotSpliced as exc:
        conn.splice_abandoned()
        if exc.refused:
            splice.disable(str(exc))
        return False
    conn.splice_finished()
    return True


async def _flush_client(request: BaseRequest) -> None:
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
