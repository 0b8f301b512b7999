"""WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream from the client, an HTTP/1.1
Upgrade to the backend, and the WebSocket bytes relayed between the two unchanged.

The client opens a stream with `:method CONNECT` and `:protocol websocket` (the connection offered
SETTINGS_ENABLE_CONNECT_PROTOCOL, ingressctl.server.h2_connection); ingressctl.server.h2_request hands
it to the request path as `GET` with `Upgrade: websocket`, so routing and the route's middlewares see
what they see for an HTTP/1.1 handshake. Here the backend is asked for the upgrade with the HTTP
path's head (forwarded headers, header edits) and a fresh Sec-WebSocket-Key; its 101 becomes the
stream's `:status 200` (with the subprotocol and extensions it chose), any other answer goes to the
client as it is. After that, WebSocket frames are the same bytes in both protocols (the client masks
its frames over HTTP/2 as over HTTP/1.1, RFC 8441 5), so the stream's DATA and the backend's socket
are joined byte for byte, flow control included: the client's window is granted as the backend
takes the bytes, and the backend is read only as fast as the client's window allows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import ssl
from typing import Final

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.upstream_protocol import HTTP2_SCHEMES, TLS_SCHEMES, BackendTLS
from ingressctl.proxy.answers import abort_client, error
from ingressctl.proxy.bare import BareResponse, BareStream
from ingressctl.proxy.exchange import Exchange, Outcome
from ingressctl.proxy.forward import Forwarder
from ingressctl.proxy.plan import RoutePlan
from ingressctl.proxy.upstream import UpstreamError
from ingressctl.proxy.upstream.tls import TLSContexts
from ingressctl.proxy.websocket import handshake_head, handshake_peer

log = logging.getLogger("ingressctl.proxy")

# RFC 6455 1.3: what the server's Sec-WebSocket-Accept is derived with.
_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HEAD: Final = 64 * 1024
_MAX_REFUSAL_BODY: Final = 1024 * 1024
# The backend's answer fields the client gets with its 200 (the rest describe the HTTP/1.1 upgrade).
_PASSED: Final = frozenset({"sec-websocket-protocol", "sec-websocket-extensions", "set-cookie"})
_HANDSHAKE: Final = frozenset(
    {b"sec-websocket-key", b"sec-websocket-version", b"upgrade", b"connection", b"content-length"}
)
# HTTP/1.1 only: the upgrade is an HTTP/1.1 mechanism, whatever ALPN could have chosen.
_TLS = TLSContexts(alpn={})


async def tunnel(
    forwarder: Forwarder,
    request: BaseRequest,
    rp: RoutePlan,
    target: str,
    host: str,
    result: Outcome,
    exchange: Exchange | None = None,
) -> StreamResponse:
    """Serve an extended CONNECT (:protocol websocket) stream through the route's backend."""
    proxy = forwarder.proxy
    pool = proxy.pool
    if rp.scheme in HTTP2_SCHEMES:
        log.warning("502 for route %s: WebSockets to an HTTP/2-only (h2c/h2) backend", rp.route_id)
        return error(502, "Bad Gateway: the backend speaks HTTP/2 only, without WebSockets")
    peer = handshake_peer(request, rp, pool)
    if peer is None:
        log.warning("503 for route %s (%s): no usable endpoint", rp.route_id, rp.backend_label)
        return error(503, "Service Unavailable")
    result.upstream = peer.label
    key = base64.b64encode(os.urandom(16))
    head = _upgrade_head(handshake_head(forwarder, request, target, host, exchange, peer), key)
    opts = proxy.options
    try:
        reader, writer = await _connect(peer.key, rp.scheme, rp.tls, opts.connect_timeout)
    except UpstreamError as exc:
        pool.record_failure(peer.key)
        return forwarder.failed(rp, peer.label, exc)
    try:
        writer.write(head)
        async with asyncio.timeout(opts.response_header_timeout):
            status, fields = await _read_head(reader)
    except (UpstreamError, TimeoutError, OSError, EOFError, asyncio.LimitOverrunError) as exc:
        writer.close()
        failure = exc if isinstance(exc, UpstreamError) else _failure(exc)
        if failure.kind != "timeout":
            pool.record_failure(peer.key)
        return forwarder.failed(rp, peer.label, failure)
    pool.record_success(peer.key)
    if status != 101:
        return await _refusal(reader, writer, status, fields)
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()  # RFC 6455 4.2.2
    answer = dict((name.lower(), value) for name, value in fields)
    if answer.get("upgrade", "").lower() != "websocket" or answer.get("sec-websocket-accept") != accept:
        writer.close()
        invalid = UpstreamError("protocol", "the backend's WebSocket handshake answer is not valid")
        return forwarder.failed(rp, peer.label, invalid)
    response = BareStream(status=200, headers=[(n, v) for n, v in fields if n.lower() in _PASSED])
    await response.prepare(request)
    await _relay(request, response, reader, writer)
    return response


def _upgrade_head(head: bytes, key: bytes) -> bytes:
    """The HTTP path's request head, as an HTTP/1.1 WebSocket handshake with `key`."""
    lines = [
        line
        for line in head.split(b"\r\n")
        if line and line.partition(b":")[0].strip().lower() not in _HANDSHAKE
    ]
    lines += [
        b"Connection: Upgrade",
        b"Upgrade: websocket",
        b"Sec-WebSocket-Key: " + key,
        b"Sec-WebSocket-Version: 13",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _connect(
    key: tuple[str, int], scheme: str, tls: BackendTLS | None, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = key
    ctx: ssl.SSLContext | None = None
    server_name: str | None = None
    if scheme in TLS_SCHEMES:
        settings = tls if tls is not None else BackendTLS(verify=False)
        ctx = _TLS.context(settings, scheme)
        server_name = settings.server_name or host
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(
                host, port, ssl=ctx, server_hostname=server_name, limit=_MAX_HEAD
            )
    except TimeoutError:
        raise UpstreamError("connect", f"connect to {host}:{port} timed out", before_send=True) from None
    except (OSError, ssl.SSLError) as exc:
        raise UpstreamError("connect", f"connect to {host}:{port} failed: {exc}", before_send=True) from None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise UpstreamError("protocol", f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
    fields = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return int(parts[1]), fields


async def _refusal(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, fields: list[tuple[str, str]]
) -> StreamResponse:
    """The backend did not upgrade: its answer (with a Content-Length body) goes to the client."""
    length = next((v for n, v in fields if n.lower() == "content-length"), "0")
    body = b""
    with contextlib.suppress(OSError, EOFError, TimeoutError):
        if length.isdigit() and 0 < int(length) <= _MAX_REFUSAL_BODY:
            async with asyncio.timeout(30):
                body = await reader.readexactly(int(length))
    writer.close()
    kept = [(n, v) for n, v in fields if n.lower().encode() not in _HANDSHAKE | {b"transfer-encoding"}]
    return BareResponse(status=status, headers=kept, body=body or None)


async def _relay(
    request: BaseRequest, response: StreamResponse, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Join the stream and the backend's socket until both directions have ended."""

    async def upward() -> None:
        while data := await request.content.readany():
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def downward() -> None:
        while data := await reader.read(65536):
            await response.write(data)
        await response.write_eof()

    up = asyncio.ensure_future(upward())
    down = asyncio.ensure_future(downward())
    try:
        done, _ = await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
        failed = any(task.exception() is not None for task in done)
        if failed:
            # Either side broke (the client reset the stream, the backend vanished): end both.
            abort_client(request)
        elif down in done:
            up.cancel()  # the backend closed (after its close frame): nothing more goes up
        else:
            await down  # the client ended its side: the backend closes after its close frame
    except (ConnectionError, OSError):
        abort_client(request)
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        writer.close()


def _failure(exc: BaseException) -> UpstreamError:
    if isinstance(exc, TimeoutError):
        return UpstreamError("timeout", "no WebSocket handshake answer from upstream in time")
    if isinstance(exc, asyncio.LimitOverrunError):
        return UpstreamError("protocol", "the backend's handshake answer head is too large")
    return UpstreamError("reset", f"upstream closed during the WebSocket handshake: {exc}")
