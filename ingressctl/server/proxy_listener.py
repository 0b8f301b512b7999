"""Entrypoints with the PROXY protocol, and the client address every request of a connection sees.

`ProxyProtocolSite` replaces aiohttp's SockSite on an entrypoint with [proxyProtocol] (or
--entrypoint ...,proxy-protocol=CIDRS). It accepts connections itself and, before the event loop
makes a transport of one, reads its PROXY header off the raw socket (ingressctl.server.proxy_protocol),
so the bytes after the header, a TLS ClientHello included, are the transport's as usual:

- a peer in trustedIPs must start with a PROXY header (v1 or v2): its client address becomes the
  connection's peer (X-Forwarded-For, allow-lists, access log); no header, or a malformed one, and the
  connection is closed (the specification: a receiver must not guess whether a header is there);
- any other peer is a direct client: it is served with its own address, and a connection of it that
  starts with a PROXY header is closed (a client must not choose the address it is seen with);
- the header must arrive within HEADER_TIMEOUT_SECONDS.

Entrypoints without PROXY protocol keep aiohttp's SockSite and the event loop's own accept path.

`PeerRequestHandler` is the per-connection protocol on those entrypoints and on dual-stack sockets
(":PORT"): its `peername` is the PROXY header's client, or the socket's peer with an IPv4-mapped
IPv6 address ("::ffff:10.0.0.1") written as the IPv4 address it is, which is what allow-lists and
trustedIPs compare against.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from ingressctl.server.peers import PeerName
from ingressctl.server.protocol import EntrypointRequestHandler
from ingressctl.server.proxy_protocol import ConnectionClosed, ProxyHeaderError, peek_start, read_header

log = logging.getLogger("ingressctl.server")

HEADER_TIMEOUT_SECONDS = 10.0
# Connections taken from the listening socket per readiness callback (as asyncio's own accept loop).
_ACCEPT_BATCH = 128
# After EMFILE and the like: wait before accepting again rather than spin on a full table.
_ACCEPT_PAUSE_SECONDS = 1.0
# Refused connections are logged at WARNING at most this often per entrypoint (DEBUG otherwise).
_WARN_EVERY_SECONDS = 60.0

Peer = tuple[str, int]


def client_address(peername: PeerName) -> PeerName:
    """`peername` with an IPv4-mapped IPv6 host as the IPv4 address, and only (host, port)."""
    if not isinstance(peername, tuple) or len(peername) < 2:
        return peername
    return unmapped(peername[0], peername[1])


def unmapped(host: str, port: int) -> Peer:
    """(host, port) with an IPv4-mapped IPv6 host as the IPv4 address."""
    if isinstance(host, str) and host.startswith("::ffff:"):
        with contextlib.suppress(ValueError):
            mapped = ipaddress.IPv6Address(host).ipv4_mapped
            if mapped is not None:
                host = str(mapped)
    return (host, port)


class PeerRequestHandler(EntrypointRequestHandler):
    """EntrypointRequestHandler whose peer is the PROXY header's client, or the unmapped socket peer."""

    __slots__ = ("_client",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # aiohttp's RequestHandler arguments, untouched
        super().__init__(*args, **kwargs)
        self._client: PeerName = None

    @property
    def peername(self) -> PeerName:
        client = self._client
        if client is None and self.transport is not None:
            client = self._client = client_address(self.transport.get_extra_info("peername"))
        return client

    def set_client(self, client: Peer) -> None:
        self._client = client

    def h2_peer(self, transport: asyncio.BaseTransport) -> PeerName:
        return self._client or client_address(transport.get_extra_info("peername"))


class _Networks:
    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def contains(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


class _Acceptor(asyncio.AbstractServer):
    """The accept loop of one listening socket (what loop.create_server would run), with the
    PROXY header read between accept() and the transport."""

    def __init__(
        self,
        sock: socket.socket,
        protocol: Callable[[Peer], asyncio.Protocol],
        ssl_context: ssl.SSLContext | None,
        trusted: _Networks,
        entrypoint: str,
        header_timeout: float,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._header_timeout = header_timeout
        self._sock = sock
        self._protocol = protocol
        self._ssl = ssl_context
        self._trusted = trusted
        self._entrypoint = entrypoint
        self._pending: set[asyncio.Task[None]] = set()
        self._serving = False
        self._closed = asyncio.Event()
        self._refused = 0
        self._warned_at = -_WARN_EVERY_SECONDS

    # asyncio.AbstractServer
    def close(self) -> None:
        if self._serving:
            self._loop.remove_reader(self._sock.fileno())
            self._serving = False
        if self._sock.fileno() >= 0:
            self._sock.close()
        for task in self._pending:
            task.cancel()
        self._closed.set()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        if not self._serving and self._sock.fileno() >= 0:
            self._loop.add_reader(self._sock.fileno(), self._accept)
            self._serving = True

    async def serve_forever(self) -> None:
        await self.start_serving()
        await self._closed.wait()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def close_clients(self) -> None:
        for task in self._pending:
            task.cancel()

    def abort_clients(self) -> None:
        self.close_clients()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,) if self._sock.fileno() >= 0 else ()

    # accepting
    def _accept(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error(
                        "entrypoint %s: cannot accept connections: %s; retrying in %gs",
                        self._entrypoint,
                        exc.strerror or exc,
                        _ACCEPT_PAUSE_SECONDS,
                    )
                    self._loop.remove_reader(self._sock.fileno())
                    self._loop.call_later(_ACCEPT_PAUSE_SECONDS, self._resume)
                return  # ECONNABORTED and the like: that one connection is gone
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._handshake(conn, unmapped(peer[0], peer[1])))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def _resume(self) -> None:
        if self._serving and self._sock.fileno() >= 0:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    async def _handshake(self, conn: socket.socket, peer: Peer) -> None:
        try:
            async with asyncio.timeout(self._header_timeout):
                if self._trusted.contains(peer[0]):
                    client = (await read_header(conn)).client or peer
                elif await peek_start(conn):
                    raise ProxyHeaderError("a PROXY header from a peer not in trustedIPs")
                else:
                    client = peer
        except (ConnectionClosed, ConnectionError) as exc:
            log.debug("entrypoint %s: connection from %s closed: %s", self._entrypoint, peer[0], exc)
            conn.close()
            return
        except (ProxyHeaderError, TimeoutError, OSError) as exc:
            reason = "no PROXY header in time" if isinstance(exc, TimeoutError) else str(exc)
            self._refuse(conn, peer, reason)
            return
        except asyncio.CancelledError:
            conn.close()
            raise
        try:
            await self._loop.connect_accepted_socket(lambda: self._protocol(client), conn, ssl=self._ssl)
        except asyncio.CancelledError:
            conn.close()
            raise
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.debug("entrypoint %s: connection from %s ended before HTTP: %s", self._entrypoint, peer, exc)
            conn.close()

    def _refuse(self, conn: socket.socket, peer: Peer, reason: str) -> None:
        conn.close()
        self._refused += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_SECONDS:
            log.warning(
                "entrypoint %s: closed a connection from %s: %s (%d so far; more at debug level)",
                self._entrypoint,
                peer[0],
                reason,
                self._refused,
            )
            self._warned_at = now
        else:
            log.debug("entrypoint %s: closed a connection from %s: %s", self._entrypoint, peer[0], reason)


class ProxyProtocolSite(web.BaseSite):
    """A SockSite whose connections start with a PROXY header when they come from `trusted`."""

    __slots__ = ("_entrypoint", "_header_timeout", "_sock", "_trusted")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        *,
        trusted: Sequence[str],
        entrypoint: str,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        header_timeout: float = HEADER_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._header_timeout = header_timeout
        self._sock = sock
        self._trusted = _Networks(trusted)
        self._entrypoint = entrypoint

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol(client: Peer) -> asyncio.Protocol:
            handler = server()
            if not isinstance(handler, PeerRequestHandler):  # the header's client would be lost
                raise TypeError(f"a PROXY protocol entrypoint needs PeerRequestHandler, not {handler!r}")
            handler.set_client(client)
            return handler

        self._sock.listen(self._backlog)
        acceptor = _Acceptor(
            self._sock, protocol, self._ssl_context, self._trusted, self._entrypoint, self._header_timeout
        )
        await acceptor.start_serving()
        self._server = acceptor
