"""The request path: pre-routing hooks → match → middlewares → balancer → upstream, streamed both ways.

One `Proxy` per process; `Proxy.handler(entrypoint)` gives the aiohttp low-level handler for one
entrypoint. The server swaps `Proxy.plan` on reload; each request reads it once at the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model import BackendProblem, Match
from ingressctl.model.config import EntryPointRedirect
from ingressctl.proxy import splice
from ingressctl.proxy.accesslog import AccessLog
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.headers import FORWARDED, HOP_BY_HOP, TrustedNetworks, connection_tokens, host_port
from ingressctl.proxy.observer import NULL_OBSERVER, ProxyObserver
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.plan import Authenticator, RoutePlan, TablePlan, strip
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.proxy.target import origin_form, valid_host
from ingressctl.proxy.upstream import UpstreamConnection, UpstreamError
from ingressctl.routing.paths import canonical_path, without_parameters

log = logging.getLogger("ingressctl.proxy")

PreRoutingHook = Callable[[BaseRequest, str], Awaitable[StreamResponse | None]]
"""Runs before anything else (redirects, auth, routing): returns a response to answer with, or None.

Arguments: the request and the entrypoint name. The ACME HTTP-01 responder plugs in here.
"""

HostCheck = Callable[[BaseRequest, str], bool]
"""For TLS entrypoints: False when the Host is not covered by the certificate served for the SNI (→ 421).

The answer must depend only on the TLS connection (its SNI and certificate) and the host: the proxy
remembers it per connection and host, so keep-alive requests do not pay for the check again.
"""

IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_REQUEST_DROP: Final = HOP_BY_HOP | {b"expect"}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS: Final = {m: m.encode() for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}


@dataclass(slots=True)
class EntrypointRuntime:
    """What the request path knows about the entrypoint a request arrived on."""

    name: str
    scheme: str = "http"
    redirect: EntryPointRedirect | None = None
    auth: Authenticator | None = None
    trusted: TrustedNetworks = field(default_factory=lambda: TrustedNetworks(()))
    host_check: HostCheck | None = None


class _Result:
    """What the access log and the observer need to know about a finished request."""

    __slots__ = ("route_id", "service", "size", "status", "upstream", "user")

    def __init__(self) -> None:
        self.route_id = ""
        self.service = ""
        self.upstream = ""
        self.status = 0
        self.size = 0
        self.user = ""


def _error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return BareResponse(status=status, text=text + "\n", headers=headers)


class Proxy:
    def __init__(
        self,
        options: ProxyOptions | None = None,
        observer: ProxyObserver | None = None,
        access_log: AccessLog | None = None,
        server_name: str | None = None,
    ) -> None:
        self.options = options or ProxyOptions()
        self.observer: ProxyObserver = observer or NULL_OBSERVER
        self.access_log = access_log
        self.plan: TablePlan | None = None
        self.hooks: list[PreRoutingHook] = []
        self._server_name = server_name or socket.gethostname()
        self._pool: UpstreamPool | None = None
        self._ws_session: object | None = None

    @property
    def pool(self) -> UpstreamPool:
        if self._pool is None:
            self._pool = UpstreamPool(self.options)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        from ingressctl.proxy.websocket import close_session

        await close_session(self)

    def handler(self, entrypoint: EntrypointRuntime) -> Callable[[BaseRequest], Awaitable[StreamResponse]]:
        return _EntrypointHandler(self, entrypoint).handle


class _EntrypointHandler:
    __slots__ = ("_fixed_forwarded", "_host_checked", "_observe", "_splice", "ep", "proxy")

    def __init__(self, proxy: Proxy, ep: EntrypointRuntime) -> None:
        self.proxy = proxy
        self.ep = ep
        self._observe = proxy.observer is not NULL_OBSERVER
        self._splice = proxy.options.splice
        self._fixed_forwarded = f"X-Forwarded-Server: {proxy._server_name}\r\n".encode("latin-1", "replace")
        # Host-check answers per TLS connection (keyed by its ssl.SSLObject, gone with the connection).
        self._host_checked: weakref.WeakKeyDictionary[object, dict[str, bool]] = weakref.WeakKeyDictionary()

    async def handle(self, request: BaseRequest) -> StreamResponse:
        proxy = self.proxy
        ep = self.ep
        loop_time = asyncio.get_running_loop().time
        start = loop_time()
        result = _Result()
        try:
            response = await self._dispatch(request, result)
        except asyncio.CancelledError:
            raise
        result.status = response.status
        if self._observe and result.route_id:
            proxy.observer.on_request(
                ep.name, result.route_id, result.service, response.status, loop_time() - start
            )
        if proxy.access_log is not None:
            self._access(request, result, response, loop_time() - start)
        return response

    def _access(
        self, request: BaseRequest, result: _Result, response: StreamResponse, duration: float
    ) -> None:
        assert self.proxy.access_log is not None
        headers = request.headers
        # Body bytes only, as Apache's %b and Traefik's DownstreamContentSize count them. A streamed
        # body is counted as it goes (aiohttp's body_length includes the head, and spliced bytes
        # never pass its writer).
        if result.size:
            size = result.size
        elif isinstance(response, web.Response) and isinstance(response.body, bytes):
            size = len(response.body)
        else:
            size = response.body_length if response.prepared else 0
        version = request.version
        self.proxy.access_log.log(
            remote=request.remote or "",
            method=request.method,
            target=request.raw_path,
            version=f"HTTP/{version.major}.{version.minor}",
            status=response.status,
            size=size,
            referer=headers.get("Referer", ""),
            user_agent=headers.get("User-Agent", ""),
            user=result.user,
            entrypoint=self.ep.name,
            router=result.route_id,
            service=result.service,
            upstream=result.upstream,
            duration=duration,
            host=headers.get("Host", ""),
        )

    # ------------------------------------------------------------ routing and middlewares

    async def _dispatch(self, request: BaseRequest, result: _Result) -> StreamResponse:
        proxy = self.proxy
        ep = self.ep
        for hook in proxy.hooks:
            hooked = await hook(request, ep.name)
            if hooked is not None:
                return hooked
        plan = proxy.plan
        if plan is None:
            return _error(503, "Service Unavailable: no configuration loaded yet")
        headers = request.headers
        raw_target = request.raw_path
        if raw_target[:1] == "/":
            host = headers.get("Host", "")
        elif (absolute := origin_form(raw_target)) is not None:
            # Absolute form (a client configured to use us as its proxy): the target's authority is
            # the host, whatever the Host header says (RFC 9112 3.2.2).
            host, raw_target = absolute
        else:
            return _error(400, "Bad Request: unsupported request target")
        # (A missing or repeated Host in HTTP/1.1 is refused by aiohttp's parser already.)
        if not valid_host(host):
            return _error(400, "Bad Request: invalid Host header")
        if ep.redirect is not None and not self._arrived_as(request, plan, ep.redirect.entrypoint):
            return self._redirect(
                request, plan, host, raw_target, ep.redirect.entrypoint, ep.redirect.permanent
            )
        path, qmark, query = raw_target.partition("?")
        path, _, _ = path.partition("#")
        canon = canonical_path(path)
        if canon is None:
            return _error(400, "Bad Request: ambiguous or malformed path")
        if ep.host_check is not None and not self._host_allowed(ep.host_check, request, host):
            return _error(
                421, "Misdirected Request: the host is not covered by this connection's certificate"
            )
        table = plan.table_for(ep.name)
        match = table.match(host, canon)
        # `/admin;x/y` is `/admin/y` to a servlet container: refused when the two views would take
        # different routes (a rule on /admin bypassed by a request the / route forwards).
        if ";" in canon and _route_of(match) != _route_of(table.match(host, without_parameters(canon))):
            return _error(400, "Bad Request: path parameters would change the route")
        if match is None:
            return _error(404, "404 page not found")
        rp = plan.routes.get(match.route.id)
        if rp is None:  # a route the plan was not built from: cannot happen with one plan per table
            rp = RoutePlan(match.route)
        result.route_id = rp.route_id
        result.service = rp.backend_label
        if rp.source_ranges is not None:
            peer = _peer(request)
            if not rp.source_ranges.allows(peer):
                return _error(403, "Forbidden")
        if rp.problem is BackendProblem.ACCESS_RULE_INVALID:
            log.warning("refused request for route %s: %s (failing closed)", rp.route_id, rp.problem_detail)
            return _error(403, "Forbidden")
        # A route's redirect (ssl-redirect, redirect-entry-point) applies on the other entrypoints only:
        # on its own target it would send the client to the URL it just asked for (Traefik v1 does the same).
        if (
            rp.redirect is not None
            and rp.redirect.entrypoint != ep.name
            and not self._arrived_as(request, plan, rp.redirect.entrypoint)
        ):
            return self._redirect(
                request, plan, host, raw_target, rp.redirect.entrypoint, rp.redirect.permanent
            )
        if rp.problem is BackendProblem.AUTH_SECRET_INVALID:
            # 503, not 401 (as ingress-nginx): no credentials can pass, so a challenge would only
            # make browsers prompt for a password that cannot work.
            log.warning("refused request for route %s: %s (failing closed)", rp.route_id, rp.problem_detail)
            return _error(503, "Service Unavailable: the route's basic auth is misconfigured")
        for auth in (ep.auth, rp.auth):
            if auth is not None:
                denied = await self._authenticate(request, auth, result)
                if denied is not None:
                    return denied
        if rp.problem is not None:
            log.warning(
                "503 for route %s (%s): %s %s",
                rp.route_id,
                rp.backend_label,
                rp.problem.value,
                rp.problem_detail,
                extra={"router": rp.route_id, "service": rp.backend_label},
            )
            return _error(503, "Service Unavailable")
        target_path = strip(canon, rp.strip_prefix) if rp.strip_prefix is not None else canon
        target = target_path + "?" + query if qmark else target_path
        upgrade = headers.get("Upgrade")
        if (
            upgrade is not None
            and upgrade.lower() == "websocket"
            and request.method == "GET"
            and _lists_upgrade(headers.get("Connection", ""))
        ):
            from ingressctl.proxy.websocket import bridge

            return await bridge(self, request, rp, target, host, result)
            # Other upgrades (h2c included) are not forwarded: the request is answered as HTTP/1.1.
        return await self._forward(request, rp, target, host, result)

    def _host_allowed(self, check: HostCheck, request: BaseRequest, host: str) -> bool:
        transport = request.transport
        conn = transport.get_extra_info("ssl_object") if transport is not None else None
        if conn is None:
            return check(request, host)
        try:
            known = self._host_checked.get(conn)
        except TypeError:  # not weak-referenceable: no cache
            return check(request, host)
        if known is None:
            known = self._host_checked[conn] = {}
        else:
            allowed = known.get(host)
            if allowed is not None:
                return allowed
        allowed = known[host] = check(request, host)
        if len(known) > 16:  # a client cycling Host values: keep the cache small
            known.clear()
        return allowed

    def _arrived_as(self, request: BaseRequest, plan: TablePlan, entrypoint: str) -> bool:
        """A trusted proxy in front (a TLS-terminating load balancer) says the client already used the
        redirect's scheme: redirecting would loop (ingress-nginx skips it the same way)."""
        trusted = self.ep.trusted
        if not trusted:
            return False
        proto = request.headers.get("X-Forwarded-Proto")
        target = plan.entrypoints.get(entrypoint)
        if proto is None or target is None or not trusted.contains(_peer(request)):
            return False
        # The leftmost value is what the client used, when several proxies appended theirs.
        return proto.partition(",")[0].strip().lower() == target.scheme

    def _redirect(
        self,
        request: BaseRequest,
        plan: TablePlan,
        host: str,
        target_uri: str,
        entrypoint: str,
        permanent: bool,
    ) -> web.Response:
        target = plan.entrypoints.get(entrypoint)
        if target is None:
            log.error("redirect to unknown entrypoint %r", entrypoint)
            return _error(500, "Internal Server Error")
        hostname = host
        if hostname.startswith("["):
            hostname = hostname[: hostname.find("]") + 1]
        else:
            hostname = hostname.partition(":")[0]
        if not hostname:
            return _error(400, "Bad Request: missing Host header")
        default = 443 if target.scheme == "https" else 80
        port = "" if target.port == default else f":{target.port}"
        location = f"{target.scheme}://{hostname}{port}{target_uri}"
        status = (301 if request.method in ("GET", "HEAD") else 308) if permanent else 302
        return BareResponse(
            status=status, text=f"Redirecting to {location}\n", headers={"Location": location}
        )

    async def _authenticate(
        self, request: BaseRequest, auth: Authenticator, result: _Result
    ) -> web.Response | None:
        creds = auth.credentials(request.headers.get("Authorization"))
        if creds is not None:
            user, password = creds
            if auth.is_slow(user, password):
                ok = await asyncio.to_thread(auth.verify, user, password)
            else:
                ok = auth.verify(user, password)
            if ok:
                result.user = user
                return None
        return _error(401, "Unauthorized", {"WWW-Authenticate": auth.challenge})

    # ------------------------------------------------------------ forwarding

    def request_head(self, request: BaseRequest, method: str, target: str, host: str, chunked: bool) -> bytes:
        """Request line and headers for the upstream, forwarded headers included."""
        ep = self.ep
        raw = request.raw_headers
        drop: frozenset[bytes] = _REQUEST_DROP
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
        peer = _peer(request)
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
            parts += (name, b": ", value, b"\r\n")
        if not has_host:
            parts.append(b"Host: " + host.encode("latin-1", "replace") + b"\r\n")
        if chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        peer_b = peer.encode()
        host_b = host.encode("latin-1", "replace")
        if incoming:
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
        else:
            port_s = str(host_port(host, 443 if ep.scheme == "https" else 80)).encode()
            parts += (
                b"X-Forwarded-For: ",
                peer_b,
                b"\r\nX-Forwarded-Proto: ",
                ep.scheme.encode(),
                b"\r\nX-Forwarded-Host: ",
                host_b,
                b"\r\nX-Forwarded-Port: ",
                port_s,
                b"\r\nX-Real-Ip: ",
                peer_b,
                b"\r\n",
            )
        parts.append(self._fixed_forwarded)
        parts.append(b"\r\n")
        return b"".join(parts)

    async def _forward(
        self, request: BaseRequest, rp: RoutePlan, target: str, host: str, result: _Result
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
                return _error(501, "Not Implemented: transfer codings other than chunked")
            chunked = has_body
        head = self.request_head(request, method, target, host, chunked)
        idempotent = method in IDEMPOTENT
        # An HTTP/1.0 client cannot take a 100 response: its expectation is ignored (RFC 9110 10.1.1).
        expect_continue = (
            has_body
            and request.version >= (1, 1)
            and request.headers.get("Expect", "").lower() == "100-continue"
        )
        body_state = _BodyState()
        failed_key: tuple[str, int] | None = None
        endpoint_retry_left = 1
        stale_retries_left = 2
        last_error: UpstreamError | None = None
        while True:
            peer = rp.balancer.pick(pool.is_ejected, failed_key)
            if peer is None:
                peer = rp.balancer.pick_any(failed_key, pool.eject_remaining)
            if peer is None:
                if last_error is not None:
                    return self._fail(rp, result.upstream, last_error)
                log.warning("503 for route %s (%s): no usable endpoint", rp.route_id, rp.backend_label)
                return _error(503, "Service Unavailable")
            result.upstream = peer.label
            conn_or_none = pool.take_idle(peer.key)
            try:
                if conn_or_none is not None:
                    conn, reused = conn_or_none, True
                else:
                    conn, reused = await pool.acquire(peer.key, rp.scheme)
            except UpstreamError as exc:
                seconds = pool.record_failure(peer.key)
                self._upstream_error(rp, peer.label, exc)
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
                return self._fail(rp, peer.label, exc)
            conn.start_request(head, method == "HEAD")
            sender: asyncio.Task[None] | None = None
            if has_body:
                sender = asyncio.ensure_future(
                    self._send_body(request, conn, chunked, expect_continue, body_state)
                )
            try:
                response_head = await conn.read_head(None if has_body else opts.response_header_timeout)
            except UpstreamError as exc:
                if sender is not None:
                    sender.cancel()
                conn.abort()
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
                self._upstream_error(rp, peer.label, exc)
                if body_state.client_error is not None:
                    return _error(400, "Bad Request: request body incomplete")
                return self._fail(rp, peer.label, exc)
            pool.record_success(peer.key)
            return await self._respond(request, rp, conn, response_head, sender, peer.label, result)

    async def _send_body(
        self,
        request: BaseRequest,
        conn: UpstreamConnection,
        chunked: bool,
        expect_continue: bool,
        state: _BodyState,
    ) -> None:
        content = request.content
        idle = self.proxy.options.idle_timeout
        loop = asyncio.get_running_loop()
        try:
            if expect_continue:
                await request.writer.write(_CONTINUE)
            async with asyncio.timeout(idle) as deadline:
                while True:
                    data = await content.readany()
                    if not data:
                        break
                    state.started = True
                    deadline.reschedule(loop.time() + idle)
                    if chunked:
                        conn.write(b"%x\r\n" % len(data) + data + b"\r\n")
                    else:
                        conn.write(data)
                    await conn.drain()
                if chunked:
                    conn.write(b"0\r\n\r\n")
            conn.start_head_timer(self.proxy.options.response_header_timeout)
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
        result: _Result,
    ) -> StreamResponse:
        from ingressctl.proxy.upstream_parser import ResponseHead

        assert isinstance(head, ResponseHead)
        pool = self.proxy.pool
        # aiohttp builds its CIMultiDict from the pairs once; building one here would copy twice.
        headers = head.headers
        status = head.status
        if status == 101:
            conn.abort()
            return self._fail(rp, upstream, UpstreamError("protocol", "unexpected 101 Switching Protocols"))
        body = conn.take_complete_body()
        if body is not None and (sender is None or sender.done()):
            pool.release(conn)
            return BareResponse(status=status, reason=head.reason, headers=headers, body=body or None)
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
        client_fd = splice.socket_fd(request.transport) if self._splice and splice.enabled() else None
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
                result.size += len(data)
                await response.write(data)
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

    def _upstream_error(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> None:
        if self._observe:
            self.proxy.observer.on_upstream_error(
                self.ep.name, rp.route_id, rp.backend_label, upstream, exc.kind
            )

    def failed_mid_body(self, request: BaseRequest, rp: RoutePlan, upstream: str, exc: UpstreamError) -> None:
        """The response's head is gone already: cut the client connection so the truncation is visible."""
        self._upstream_error(rp, upstream, exc)
        log.warning("route %s: upstream %s failed mid-body: %s", rp.route_id, upstream, exc)
        abort_client(request)

    def _fail(self, rp: RoutePlan, upstream: str, exc: UpstreamError) -> web.Response:
        fields = {"router": rp.route_id, "service": rp.backend_label, "upstream": upstream}
        if exc.kind == "timeout":
            log.warning(
                "504 for route %s (%s) upstream %s: %s",
                rp.route_id,
                rp.backend_label,
                upstream,
                exc,
                extra=fields,
            )
            return _error(504, "Gateway Timeout")
        log.warning(
            "502 for route %s (%s) upstream %s: %s",
            rp.route_id,
            rp.backend_label,
            upstream,
            exc,
            extra=fields,
        )
        return _error(502, "Bad Gateway")


class _BodyState:
    __slots__ = ("client_error", "started")

    def __init__(self) -> None:
        self.started = False
        self.client_error: BaseException | None = None


def _lists_upgrade(connection: str) -> bool:
    """An Upgrade header counts only when Connection names it (RFC 9110 7.8); otherwise the request
    is an ordinary one (and its Upgrade header, hop-by-hop, is not forwarded)."""
    return any(token.strip().lower() == "upgrade" for token in connection.split(","))


def _route_of(match: Match | None) -> str | None:
    return match.route.id if match is not None else None


def _peer(request: BaseRequest) -> str:
    # aiohttp caches the peer address per connection; `remote` reads it.
    return request.remote or ""


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


def abort_client(request: BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


def entrypoint_runtime(
    name: str,
    scheme: str,
    redirect: EntryPointRedirect | None,
    auth_users: Sequence[tuple[str, str]] | None,
    realm: str,
    trusted_ips: Sequence[str],
    host_check: HostCheck | None = None,
) -> EntrypointRuntime:
    """Build an EntrypointRuntime from static-configuration parts."""
    auth = Authenticator(auth_users, realm, f"entrypoint {name}") if auth_users else None
    return EntrypointRuntime(name, scheme, redirect, auth, TrustedNetworks(trusted_ips), host_check)
