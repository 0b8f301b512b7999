"""The request path: pre-routing hooks → match → the route's middleware chain → forward.

One `Proxy` per process; `Proxy.handler(entrypoint)` gives the aiohttp low-level handler for one
entrypoint. The server swaps `Proxy.plan` on reload; each request reads it once at the start.
The chain's stages live in `proxy/middlewares/` (built with the plan), forwarding in `forward`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model import Match
from ingressctl.proxy.accesslog import AccessLog
from ingressctl.proxy.answers import error
from ingressctl.proxy.entrypoint import ConnectionMemo, EntrypointRuntime, HostCheck, entrypoint_runtime
from ingressctl.proxy.exchange import Exchange, Outcome, Suspend
from ingressctl.proxy.forward import Forwarder
from ingressctl.proxy.middlewares.forward_auth import close_auth_sessions
from ingressctl.proxy.middlewares.mirror import close_mirror_sessions
from ingressctl.proxy.middlewares.redirect import arrived_as, redirect
from ingressctl.proxy.observer import NULL_OBSERVER, ProxyObserver
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.plan import RoutePlan, TablePlan
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.proxy.target import origin_form, valid_host
from ingressctl.routing.paths import canonical_path, without_parameters

log = logging.getLogger("ingressctl.proxy")

__all__ = ["EntrypointRuntime", "HostCheck", "PreRoutingHook", "Proxy", "entrypoint_runtime"]

PreRoutingHook = Callable[[BaseRequest, str], Awaitable[StreamResponse | None]]
"""Runs before anything else (redirects, auth, routing): returns a response to answer with, or None.

Arguments: the request and the entrypoint name. The ACME HTTP-01 responder plugs in here.
"""


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
        self.server_name = server_name or socket.gethostname()
        self._pool: UpstreamPool | None = None
        self.ws_session: object | None = None

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
        await close_auth_sessions()
        await close_mirror_sessions()

    def handler(self, entrypoint: EntrypointRuntime) -> Callable[[BaseRequest], Awaitable[StreamResponse]]:
        return _EntrypointHandler(self, entrypoint).handle


class _EntrypointHandler:
    __slots__ = ("_clock", "_forwarder", "_host_checked", "_observe", "ep", "proxy")

    def __init__(self, proxy: Proxy, ep: EntrypointRuntime) -> None:
        self.proxy = proxy
        self.ep = ep
        self._observe = proxy.observer is not NULL_OBSERVER
        self._forwarder = Forwarder(proxy, ep)
        self._clock: Callable[[], float] | None = None
        # Host-check answers per TLS connection (keyed by its ssl.SSLObject, gone with the connection).
        self._host_checked: weakref.WeakKeyDictionary[object, dict[str, bool]] = weakref.WeakKeyDictionary()

    async def handle(self, request: BaseRequest) -> StreamResponse:
        proxy = self.proxy
        ep = self.ep
        loop_time = self._clock
        if loop_time is None:
            # Once: on Python 3.11 asyncio.get_running_loop() makes a getpid() system call.
            loop_time = self._clock = asyncio.get_running_loop().time
        start = loop_time()
        result = Outcome()
        try:
            response = await self._dispatch(request, result)
        except asyncio.CancelledError:
            raise
        result.status = response.status
        if self._observe and result.route_id:
            proxy.observer.on_request(
                ep.name,
                result.route_id,
                result.service,
                response.status,
                loop_time() - start,
                protocol_of(request),
            )
            if result.refused_by:
                proxy.observer.on_refused(ep.name, result.route_id, result.service, result.refused_by)
        if proxy.access_log is not None and not result.quiet:
            self._access(request, result, response, loop_time() - start)
        return response

    def _access(
        self, request: BaseRequest, result: Outcome, response: StreamResponse, duration: float
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

    # ------------------------------------------------------------ entrypoint, match, chain

    async def _dispatch(self, request: BaseRequest, result: Outcome) -> StreamResponse:
        proxy = self.proxy
        ep = self.ep
        for hook in proxy.hooks:
            hooked = await hook(request, ep.name)
            if hooked is not None:
                return hooked
        plan = proxy.plan
        if plan is None:
            return error(503, "Service Unavailable: no configuration loaded yet")
        # BaseRequest's own fields, read without a cached-property call each (every request
        # object is a BaseRequest: aiohttp's, the request loop's or the HTTP/2 stream's).
        headers = request._headers
        raw_target = request._message.path
        method = request._method
        if raw_target[:1] == "/":
            host = headers.get("Host", "")
        elif (absolute := origin_form(raw_target)) is not None:
            # Absolute form (a client configured to use us as its proxy): the target's authority is
            # the host, whatever the Host header says (RFC 9112 3.2.2).
            host, raw_target = absolute
        else:
            return error(400, "Bad Request: unsupported request target")
        # (A missing or repeated Host in HTTP/1.1 is refused by aiohttp's parser already.)
        if not valid_host(host):
            return error(400, "Bad Request: invalid Host header")
        ep_redirect = ep.redirect
        if ep_redirect is not None and not arrived_as(request, ep, plan.entrypoints, ep_redirect.entrypoint):
            return redirect(
                request, plan.entrypoints, host, raw_target, ep_redirect.entrypoint, ep_redirect.permanent
            )
        path, qmark, query = raw_target.partition("?")
        path, _, _ = path.partition("#")
        canon = canonical_path(path)
        if canon is None:
            return error(400, "Bad Request: ambiguous or malformed path")
        host_check = ep.host_check
        if host_check is not None:
            # An HTTP/1.1 connection's earlier answer for this Host, read without a call per request.
            protocol = request._protocol
            allowed = protocol.host_answers.get(host) if isinstance(protocol, ConnectionMemo) else None
            if allowed is None:
                allowed = self._host_allowed(host_check, request, host)
            if not allowed:
                return error(421, _MISDIRECTED)
        table = plan.table_for(ep.name)
        match = table.match_request(host, canon, method, headers, query)
        # `/admin;x/y` is `/admin/y` to a servlet container: refused when the two views would take
        # different routes (a rule on /admin bypassed by a request the / route forwards).
        if ";" in canon and _route_of(match) != _route_of(
            table.match_request(host, without_parameters(canon), method, headers, query)
        ):
            return error(400, "Bad Request: path parameters would change the route")
        if match is None:
            return error(404, "404 page not found")
        rp = plan.routes.get(match.route.id)
        if rp is None:  # a route the plan was not built from: cannot happen with one plan per table
            rp = RoutePlan(match.route)
        if rp.canary_choice is not None:
            rp = rp.for_request(request)  # ingress-nginx canary-by-header / -by-cookie
        result.route_id = rp.route_id
        result.quiet = not rp.route.middlewares.access_log
        result.service = rp.backend_label
        stages = rp.stages if ep.auth is None else rp.stages_on(ep.auth)
        if not stages and ep.compress is None:  # a route without middlewares builds no Exchange
            return await self._forward(request, rp, canon, qmark, query, host, result, None)
        exchange = Exchange(request, ep, plan.entrypoints, host, raw_target, canon, rp.route_id, result)
        if ep.compress is not None:
            exchange.response_filters.append(ep.compress)
        try:
            for check, middleware in stages:
                if check is not None:
                    # Most stages decide without suspending: no coroutine for them.
                    checked = check(exchange)
                    if checked is None:
                        continue
                    if not isinstance(checked, Suspend):
                        return filtered(exchange, checked)
                answer = await middleware.handle(exchange)
                if answer is not None:
                    return filtered(exchange, answer)
            response = await self._forward(request, rp, exchange.path, qmark, query, host, result, exchange)
            if exchange.response_filters and not result.filtered:  # (the forwarder filtered it)
                return filtered(exchange, response)
            return response
        finally:
            if exchange.on_done is not None:
                exchange.finish()

    def _forward(
        self,
        request: BaseRequest,
        rp: RoutePlan,
        canon: str,
        qmark: str,
        query: str,
        host: str,
        result: Outcome,
        exchange: Exchange | None,
    ) -> Awaitable[StreamResponse]:
        """The forwarding to await: the forwarder's own coroutine, not one more wrapped around it
        (a coroutine level costs every request its creation and each suspension's pass through)."""
        if rp.problem is not None:
            log.warning(
                "503 for route %s (%s): %s %s",
                rp.route_id,
                rp.backend_label,
                rp.problem.value,
                rp.problem_detail,
                extra={"router": rp.route_id, "service": rp.backend_label},
            )
            return _answered(error(503, "Service Unavailable"))
        target = canon + "?" + query if qmark else canon
        upgrade = request._headers.get("Upgrade")
        if (
            upgrade is not None
            and upgrade.lower() == "websocket"
            and request.method == "GET"
            and _lists_upgrade(request._headers.get("Connection", ""))
        ):
            if request.version.major == 2:  # RFC 8441 extended CONNECT (server/h2_request.py)
                from ingressctl.proxy.websocket_h2 import tunnel

                return tunnel(self._forwarder, request, rp, target, host, result, exchange)
            from ingressctl.proxy.websocket import bridge

            return bridge(self._forwarder, request, rp, target, host, result, exchange)
            # Other upgrades (h2c included) are not forwarded: the request is answered as HTTP/1.1.
        forwarding = self._forwarder.forward(request, rp, target, host, result, exchange)
        if rp.breaker is not None:
            return rp.breaker.observe(forwarding)
        return forwarding

    def _host_allowed(self, check: HostCheck, request: BaseRequest, host: str) -> bool:
        protocol = request.protocol
        if isinstance(protocol, ConnectionMemo):  # an HTTP/1.1 connection: its own answers
            known = protocol.host_answers
        else:  # HTTP/2 (a protocol per stream): the answers of the TLS connection it belongs to
            transport = request.transport
            conn = transport.get_extra_info("ssl_object") if transport is not None else None
            if conn is None:
                return check(request, host)
            try:
                stream_answers = self._host_checked.get(conn)
            except TypeError:  # not weak-referenceable: no cache
                return check(request, host)
            if stream_answers is None:
                stream_answers = self._host_checked[conn] = {}
            known = stream_answers
        allowed = known.get(host)
        if allowed is not None:
            return allowed
        allowed = known[host] = check(request, host)
        if len(known) > 16:  # a client cycling Host values: keep the cache small
            known.clear()
        return allowed


def protocol_of(request: BaseRequest) -> str:
    """The protocol a request came in with, as ALPN names it ("h2c": HTTP/2 without TLS)."""
    version = request._version
    known = _HTTP1_NAMES.get(version)
    if known is not None:
        return known
    if version.major == 2:
        return "h2" if request.secure else "h2c"
    return f"http/{version.major}.{version.minor}"


_MISDIRECTED: Final = "Misdirected Request: the host is not covered by this connection's certificate"
# The per-request label of the usual versions, without formatting a string each time.
_HTTP1_NAMES: Final = {(1, 1): "http/1.1", (1, 0): "http/1.0"}


def filtered(exchange: Exchange, response: StreamResponse) -> StreamResponse:
    """The proxy's own answer (a redirect, a refusal, a 502) through the route's response filters;
    a relayed response went through them in the forwarder already."""
    if exchange.outcome.filtered or response.prepared:
        return response
    exchange.outcome.filtered = True
    pairs = list(response.headers.items())
    exchange.filter_response(response.status, pairs, False)
    response.headers.clear()
    response.headers.extend(pairs)
    return response


async def _answered(response: StreamResponse) -> StreamResponse:
    return response


def _lists_upgrade(connection: str) -> bool:
    """An Upgrade header counts only when Connection names it (RFC 9110 7.8); otherwise the request
    is an ordinary one (and its Upgrade header, hop-by-hop, is not forwarded)."""
    return any(token.strip().lower() == "upgrade" for token in connection.split(","))


def _route_of(match: Match | None) -> str | None:
    return match.route.id if match is not None else None
