"""WebSocket upgrades: handshake with the upstream first, then accept the client and relay frames.

Relaying messages (rather than raw bytes) keeps both sides' framing valid: pings, pongs and close
codes are passed through as they come (autoping and autoclose are off on both sides).

An upstream that answers the handshake with anything but 101 has refused the upgrade: its response
goes to the client as it is (status, end-to-end headers, body), as for any other proxied request,
and nothing is upgraded (Traefik and nginx do the same). Only a failed upstream (connect error,
reset, timeout, malformed handshake) is a 502 or 504, logged like the HTTP path's failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import ContextVar
from typing import Final

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.connector import Connection
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import abort_client
from ingressctl.proxy.balancer import Peer
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.exchange import Exchange, Outcome
from ingressctl.proxy.forward import Forwarder, ProxyCore
from ingressctl.proxy.headers import RESPONSE_DROP, connection_tokens
from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.proxy.upstream import UpstreamError

log = logging.getLogger("ingressctl.proxy")

# Generated afresh for the upstream handshake by aiohttp, or negotiated separately.
_HANDSHAKE: Final = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)

# aiohttp would add these when the client did not send them; a proxy must not invent request
# headers (an Accept-Encoding the client never sent could get it a compressed refusal body).
_NO_AUTO_HEADERS: Final = ("Accept", "Accept-Encoding", "User-Agent")

# Statuses whose responses have no body (RFC 9110 6.4.1).
_NO_BODY: Final = frozenset({204, 304})


class _Refusal:
    """Where a bridge waits for the upstream's response when the upstream refuses the upgrade."""

    __slots__ = ("passed", "response", "status")

    def __init__(self) -> None:
        self.response: _HandshakeResponse | None = None
        self.status = 0
        self.passed = False  # `_pass_refusal` owns the response (and discards it)


# Set by `bridge` around ws_connect; read by the response class in the same task.
_REFUSAL: ContextVar[_Refusal | None] = ContextVar("ingressctl_ws_refusal", default=None)


class _HandshakeResponse(aiohttp.ClientResponse):
    """The upstream's answer to a handshake, kept open (body unread) when it is not 101.

    ws_connect turns any status but 101 into WSServerHandshakeError and closes the response with
    its body unread, and the request under it follows redirects itself; the client must get that
    response instead. So a refusal hands itself to the waiting bridge, hides its status from
    aiohttp (no redirect is followed; ws_connect still raises) and ignores ws_connect's close():
    the bridge streams the body and then calls `discard`.
    """

    _held = False

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        await super().start(connection)
        refusal = _REFUSAL.get()
        if self.status != 101 and refusal is not None and refusal.response is None:
            refusal.response = self
            refusal.status = self.status
            self._held = True
            self.status = 0
        return self

    def close(self) -> None:
        if not self._held:
            super().close()

    def discard(self) -> None:
        self._held = False
        super().close()


def _session(proxy: ProxyCore) -> aiohttp.ClientSession:
    session = proxy.ws_session
    if not isinstance(session, aiohttp.ClientSession) or session.closed:
        opts = proxy.options
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, ssl=False),
            auto_decompress=False,
            # One session serves every client: cookies one backend sets must not reach the next
            # client's handshake.
            cookie_jar=aiohttp.DummyCookieJar(),
            response_class=_HandshakeResponse,
            skip_auto_headers=_NO_AUTO_HEADERS,
            # sock_read bounds the wait for the handshake response; ws_connect lifts it once the
            # connection is upgraded (a websocket may stay quiet for as long as it likes).
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=opts.connect_timeout, sock_read=opts.response_header_timeout
            ),
        )
        proxy.ws_session = session
    return session


async def close_session(proxy: ProxyCore) -> None:
    session = proxy.ws_session
    if isinstance(session, aiohttp.ClientSession):
        await session.close()
    proxy.ws_session = None


def handshake_peer(request: BaseRequest, rp: RoutePlan, pool: UpstreamPool) -> Peer | None:
    """The endpoint a WebSocket handshake goes to (HTTP/1.1 Upgrade or RFC 8441): the route's
    upstream policy (a sticky cookie pins websockets too; socket.io and the like need it) or its
    balancer; when every endpoint is ejected, the one whose ejection ends first."""
    policy = rp.upstream_policy
    picked = (
        rp.balancer.pick(pool.is_ejected)
        if policy is None
        else policy.pick(request, rp.balancer, pool.is_ejected, None)
    )
    if policy is not None and picked is not None:
        policy.release(picked.key)  # counted as in flight for the handshake only
    return picked or rp.balancer.pick_any(None, pool.eject_remaining)


def handshake_head(
    forwarder: Forwarder,
    request: BaseRequest,
    target: str,
    host: str,
    exchange: Exchange | None,
    peer: Peer,
) -> bytes:
    """The HTTP path's upstream head for a handshake: the route's header edits and Host choice
    (request-headers, upstream-vhost, pass-host) applied as for any request of the route."""
    vhost = ""
    edits = None
    if exchange is not None:
        edits = exchange.header_edits
        vhost = exchange.upstream_host or ("" if exchange.pass_host else peer.label)
    return forwarder.request_head(request, "GET", target, host, False, edits, vhost)


async def bridge(
    forwarder: Forwarder,
    request: BaseRequest,
    rp: RoutePlan,
    target: str,
    host: str,
    result: Outcome,
    exchange: Exchange | None = None,
) -> StreamResponse:
    proxy = forwarder.proxy
    pool = proxy.pool
    policy = rp.upstream_policy  # a sticky cookie pins websockets too (socket.io and the like need it)
    peer = handshake_peer(request, rp, pool)
    if peer is None:
        log.warning("503 for route %s (%s): no usable endpoint", rp.route_id, rp.backend_label)
        return BareResponse(status=503, text="Service Unavailable\n")
    result.upstream = peer.label
    # Reuse the HTTP path's header rules (hop-by-hop removal, forwarded headers), then drop the
    # handshake headers aiohttp regenerates.
    head = handshake_head(forwarder, request, target, host, exchange, peer)
    headers: list[tuple[str, str]] = []
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        name, _, value = line.partition(b": ")
        lname = name.decode("latin-1")
        if lname.lower() in _HANDSHAKE:
            continue
        headers.append((lname, value.decode("latin-1")))
    protocols = tuple(
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    )
    scheme = "wss" if rp.scheme == "https" else "ws"
    url = f"{scheme}://{peer.label}{target}"
    session = _session(proxy)
    refusal = _Refusal()
    token = _REFUSAL.set(refusal)
    try:
        upstream_ws = await session.ws_connect(
            url,
            headers=headers,
            protocols=protocols,
            autoclose=False,
            autoping=False,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
            compress=0,
        )
    except aiohttp.WSServerHandshakeError as exc:
        if refusal.response is not None:
            pool.record_success(peer.key)  # it answered: alive, just not upgrading this request
            refusal.passed = True
            return await _pass_refusal(forwarder, request, rp, peer.label, refusal, result)
        # A 101 that does not complete the handshake (wrong accept key, missing Upgrade).
        pool.record_failure(peer.key)
        return forwarder.failed(
            rp, peer.label, UpstreamError("protocol", f"websocket handshake: {exc.message}")
        )
    except aiohttp.ConnectionTimeoutError as exc:
        pool.record_failure(peer.key)
        return forwarder.failed(rp, peer.label, UpstreamError("connect", f"connect timed out: {exc}"))
    except TimeoutError:
        return forwarder.failed(
            rp, peer.label, UpstreamError("timeout", "timed out waiting for the handshake response")
        )
    except (aiohttp.ClientError, OSError) as exc:
        pool.record_failure(peer.key)
        # The kinds the HTTP path reports for the same failures (the observer counts them by kind).
        if isinstance(exc, (aiohttp.ClientConnectorError, ConnectionRefusedError)):
            kind = "connect"
        elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, OSError)):
            kind = "reset"
        else:  # a response aiohttp could not parse
            kind = "protocol"
        return forwarder.failed(rp, peer.label, UpstreamError(kind, f"websocket handshake failed: {exc}"))
    finally:
        _REFUSAL.reset(token)
        if refusal.response is not None and not refusal.passed:
            refusal.response.discard()  # cancelled between the handshake and its pass-through
    pool.record_success(peer.key)
    client_ws = web.WebSocketResponse(
        protocols=(upstream_ws.protocol,) if upstream_ws.protocol else (),
        autoclose=False,
        autoping=False,
        max_msg_size=0,
        heartbeat=None,
    )
    cookie = policy.selector.set_cookie(request, peer) if policy is not None and policy.selector else None
    if cookie is not None:
        client_ws.headers.add("Set-Cookie", cookie)
    try:
        await client_ws.prepare(request)
    except Exception:
        await upstream_ws.close()
        raise

    async def pump(
        src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        while True:
            msg = await src.receive()  # a websocket may stay quiet for as long as it likes
            kind = msg.type
            if kind == WSMsgType.TEXT:
                await dst.send_str(msg.data)
            elif kind == WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif kind == WSMsgType.PING:
                await dst.ping(msg.data)
            elif kind == WSMsgType.PONG:
                await dst.pong(msg.data)
            elif kind == WSMsgType.CLOSE:
                code = msg.data if isinstance(msg.data, int) and msg.data else 1000
                await dst.close(code=code, message=(msg.extra or "").encode())
                return
            else:  # CLOSING, CLOSED, ERROR
                await dst.close()
                return

    to_upstream = asyncio.ensure_future(pump(client_ws, upstream_ws))
    to_client = asyncio.ensure_future(pump(upstream_ws, client_ws))
    try:
        _done, pending = await asyncio.wait((to_upstream, to_client), return_when=asyncio.FIRST_COMPLETED)
        # The other direction gets a moment to pass the close handshake on.
        if pending:
            _, pending = await asyncio.wait(pending, timeout=5.0)
        for task in pending:
            task.cancel()
        for task in (to_upstream, to_client):
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.debug("websocket relay for route %s ended: %s", rp.route_id, task.exception())
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        with contextlib.suppress(Exception):
            await upstream_ws.close()
        with contextlib.suppress(Exception):
            await client_ws.close()
    return client_ws


async def _pass_refusal(
    forwarder: Forwarder,
    request: BaseRequest,
    rp: RoutePlan,
    upstream: str,
    refusal: _Refusal,
    result: Outcome,
) -> StreamResponse:
    """Send the upstream's non-101 answer to the client: status, end-to-end headers, body."""
    resp = refusal.response
    assert resp is not None
    try:
        drop = RESPONSE_DROP
        listed = resp.headers.get("Connection")
        if listed:
            drop = drop | connection_tokens(listed.encode("latin-1"))
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in resp.raw_headers
            if name.lower() not in drop
        ]
        status = refusal.status
        if status in _NO_BODY:
            return BareResponse(status=status, reason=resp.reason, headers=headers)
        response = BareStream(status=status, reason=resp.reason, headers=headers)
        if resp.content_length is not None:
            response.content_length = resp.content_length
        try:
            await response.prepare(request)
        except (ConnectionError, OSError):
            return response
        try:
            while data := await resp.content.readany():
                result.size += len(data)
                await response.write(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            err = UpstreamError("timeout" if isinstance(exc, TimeoutError) else "reset", str(exc))
            forwarder.failed_mid_body(request, rp, upstream, err)
            return response
        except (ConnectionError, OSError):
            abort_client(request)
            return response
        await response.write_eof()
        return response
    finally:
        resp.discard()
