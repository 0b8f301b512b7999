"""WebSocket upgrades: handshake with the upstream first, then accept the client and relay frames.

Relaying messages (rather than raw bytes) keeps both sides' framing valid: pings, pongs and close
codes are passed through as they come (autoping and autoclose are off on both sides).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.upstream import UpstreamError

if TYPE_CHECKING:
    from ingressctl.proxy.handler import Proxy, _EntrypointHandler, _Result

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


def _session(proxy: Proxy) -> aiohttp.ClientSession:
    session = proxy._ws_session
    if not isinstance(session, aiohttp.ClientSession) or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, ssl=False), auto_decompress=False
        )
        proxy._ws_session = session
    return session


async def close_session(proxy: Proxy) -> None:
    session = proxy._ws_session
    if isinstance(session, aiohttp.ClientSession):
        await session.close()
    proxy._ws_session = None


async def bridge(
    handler: _EntrypointHandler, request: BaseRequest, rp: RoutePlan, target: str, host: str, result: _Result
) -> StreamResponse:
    proxy = handler.proxy
    pool = proxy.pool
    peer = rp.balancer.pick(pool.is_ejected) or rp.balancer.pick_any(None, pool.eject_remaining)
    if peer is None:
        return web.Response(status=503, text="Service Unavailable\n")
    result.upstream = peer.label
    # Reuse the HTTP path's header rules (hop-by-hop removal, forwarded headers), then drop the
    # handshake headers aiohttp regenerates.
    head = handler.request_head(request, "GET", target, host, chunked=False)
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
        handler._upstream_error(rp, peer.label, UpstreamError("protocol", str(exc)))
        status = exc.status if 400 <= exc.status < 600 else 502
        return web.Response(status=status, text=f"{exc.message}\n")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        pool.record_failure(peer.key)
        err = UpstreamError("connect", f"websocket to {peer.label} failed: {exc}")
        handler._upstream_error(rp, peer.label, err)
        return handler._fail(rp, peer.label, err)
    pool.record_success(peer.key)
    client_ws = web.WebSocketResponse(
        protocols=(upstream_ws.protocol,) if upstream_ws.protocol else (),
        autoclose=False,
        autoping=False,
        max_msg_size=0,
        heartbeat=None,
    )
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
