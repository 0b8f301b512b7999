"""Keep-alive connections to upstreams, and which upstream addresses are temporarily ejected.

The pool outlives routing tables: a reload keeps warm connections and ejection state for every
address that is still in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from ingressctl.model.upstream_protocol import HTTP2_SCHEMES, TLS_SCHEMES, BackendTLS
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.upstream import Deadlines, ReadBuffer, UpstreamConnection, UpstreamError
from ingressctl.proxy.upstream.h2client import H2Connection
from ingressctl.proxy.upstream.tls import TLSContexts

Key = tuple[str, int]
# Idle connections are kept per address and TLS settings: a connection opened without verification
# must never serve a route that asks for it.
IdleKey = tuple[str, int, BackendTLS | None]
# Plain connections are kept under the address itself (the request path's own tuple, no new one).
PoolKey = Key | IdleKey
# HTTP/2 connections are kept per address, scheme and TLS settings.
H2Key = tuple[str, int, str, BackendTLS | None]


class NegotiatedH2(Exception):
    """An https backend chose HTTP/2 by ALPN: forward over `connection` instead."""

    def __init__(self, connection: H2Connection) -> None:
        super().__init__("the backend chose HTTP/2")
        self.connection = connection


class _AlpnChoice(asyncio.Protocol):
    """Stands in until the TLS handshake of an https connection is done, then hands the transport
    to the HTTP/1.1 or the HTTP/2 protocol as ALPN decided (before any byte is received)."""

    def __init__(self, http1: Callable[[], UpstreamConnection], h2: Callable[[], H2Connection]) -> None:
        self._http1 = http1
        self._h2 = h2
        self.chosen: UpstreamConnection | H2Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        chosen: UpstreamConnection | H2Connection = self._h2() if alpn == "h2" else self._http1()
        self.chosen = chosen
        transport.set_protocol(chosen)
        chosen.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.chosen is not None:
            self.chosen.connection_lost(exc)


@dataclass(frozen=True, slots=True)
class EndpointFailing:
    """An address whose last attempt failed, with no success since (passive health)."""

    failures: int  # consecutive failed attempts
    ejected_for: float  # seconds it is still skipped by the balancer; 0: it may be tried again


class UpstreamPool:
    def __init__(
        self,
        options: ProxyOptions,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.options = options
        self._loop = loop or asyncio.get_running_loop()
        # What ejection is measured with (seconds, monotonic): the loop's time unless a test sets one.
        self._clock = clock or self._loop.time
        self._idle: dict[PoolKey, list[UpstreamConnection]] = {}
        # address -> (ejected until clock(), consecutive connect failures)
        self._ejected: dict[Key, tuple[float, int]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._tls = TLSContexts()
        # HTTP/2 connections by (host, port, scheme, TLS settings), and the https addresses that chose h2.
        self._h2: dict[H2Key, list[H2Connection]] = {}
        self._h2_by_alpn: set[IdleKey] = set()
        self._h2_connecting: dict[H2Key, asyncio.Future[None]] = {}
        # Requests waiting for a stream slot while every connection allowed is full.
        self._h2_waiters: dict[H2Key, list[asyncio.Future[None]]] = {}
        self._read_buffer = ReadBuffer()
        self._deadlines = Deadlines(self._loop)

    # ------------------------------------------------------------ ejection

    def is_ejected(self, key: Key) -> bool:
        entry = self._ejected.get(key)
        if entry is None:
            return False
        return not entry[0] <= self._clock()

    def eject_remaining(self, key: Key) -> float:
        entry = self._ejected.get(key)
        return 0.0 if entry is None else max(0.0, entry[0] - self._clock())

    def record_failure(self, key: Key) -> float:
        """Eject the address for a time that doubles with each consecutive failure. Returns seconds."""
        _, failures = self._ejected.get(key, (0.0, 0))
        failures += 1
        opts = self.options
        seconds = float(min(opts.eject_max_seconds, opts.eject_base_seconds * 2.0 ** (failures - 1)))
        self._ejected[key] = (self._clock() + seconds, failures)
        return seconds

    def record_success(self, key: Key) -> None:
        if self._ejected:
            self._ejected.pop(key, None)

    def failing(self) -> dict[Key, EndpointFailing]:
        """Every address failing now: what the API and dashboard show as endpoint health."""
        return {key: EndpointFailing(n, self.eject_remaining(key)) for key, (_, n) in self._ejected.items()}

    # ------------------------------------------------------------ connections

    def take_idle(self, key: Key, tls: BackendTLS | None = None) -> UpstreamConnection | None:
        """An idle keep-alive connection to `key` made with `tls`, or None (no coroutine on the hot path)."""
        idle = self._idle.get(key if tls is None else (key[0], key[1], tls))
        if idle:
            now = self._loop.time()
            limit = self.options.pool_idle_seconds
            while idle:
                conn = idle.pop()
                if not conn.closed and now - conn.idle_since < limit:
                    return conn
                conn.close()
        return None

    async def acquire(
        self,
        key: Key,
        scheme: str = "http",
        tls: BackendTLS | None = None,
        connect_timeout: float | None = None,
    ) -> tuple[UpstreamConnection, bool]:
        """A connection to `key`: an idle one when available (reused=True), else a new one;
        `connect_timeout` overrides the proxy's for this route (ingress-nginx proxy-connect-timeout).

        Raises UpstreamError (kind "connect", before_send True) when no connection could be made.
        """
        conn = self.take_idle(key, tls)
        if conn is not None:
            return conn, True
        return await self._connect(key, scheme, tls, connect_timeout), False

    async def _connect(
        self, key: Key, scheme: str, tls: BackendTLS | None = None, connect_timeout: float | None = None
    ) -> UpstreamConnection:
        """A new HTTP/1.1 connection; raises NegotiatedH2 when an https backend chose HTTP/2 by ALPN."""
        opts = self.options
        loop = self._loop
        read_buffer = self._read_buffer
        deadlines = self._deadlines
        proto = await self._open(
            key,
            scheme,
            tls,
            lambda: UpstreamConnection(
                key, loop, opts.read_high_water, opts.max_head_bytes, read_buffer, deadlines
            ),
            connect_timeout,
        )
        if isinstance(proto, H2Connection):
            timeout = connect_timeout or opts.connect_timeout
            await self._h2_settings(proto, key, loop.time() + timeout)
            self._add_h2(proto, scheme, tls)
            raise NegotiatedH2(proto)
        proto.tls = tls
        return proto

    async def _open(
        self,
        key: Key,
        scheme: str,
        tls: BackendTLS | None,
        http1: Callable[[], UpstreamConnection],
        connect_timeout: float | None = None,
    ) -> UpstreamConnection | H2Connection:
        """Connect (and handshake): an HTTP/1.1 or HTTP/2 connection as the scheme (and ALPN) says."""
        opts = self.options
        loop = self._loop
        host, port = key
        ssl_ctx: ssl.SSLContext | None = None
        server_name: str | None = None
        if scheme in TLS_SCHEMES:
            # A route compiled from manifests always carries its settings; a bare https backend
            # (built by hand) keeps the old unverified encryption.
            settings = tls if tls is not None else BackendTLS(verify=False)
            ssl_ctx = self._tls.context(settings, scheme)
            server_name = settings.server_name or host
        max_streams = opts.h2_max_streams_per_connection

        def h2() -> H2Connection:
            return H2Connection(key, loop, max_streams)

        factory: Callable[[], asyncio.BaseProtocol]
        if scheme in HTTP2_SCHEMES:
            factory = h2
        elif scheme == "https":
            factory = lambda: _AlpnChoice(http1, h2)  # noqa: E731
        else:
            factory = http1
        try:
            async with asyncio.timeout(connect_timeout or opts.connect_timeout):
                _, proto = await loop.create_connection(
                    factory, host, port, ssl=ssl_ctx, server_hostname=server_name
                )
        except TimeoutError:
            raise UpstreamError("connect", f"connect to {host}:{port} timed out", before_send=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise UpstreamError(
                "connect",
                f"TLS to {host}:{port} refused: the certificate of {server_name} could not be verified "
                f"({exc.verify_message or exc.reason})",
                before_send=True,
            ) from None
        except (OSError, ssl.SSLError) as exc:
            # A failed TLS handshake is still before the request: nothing of it was written.
            raise UpstreamError(
                "connect", f"connect to {host}:{port} failed: {exc.strerror or exc}", before_send=True
            ) from None
        if isinstance(proto, _AlpnChoice):
            chosen = proto.chosen
            assert chosen is not None
            proto = chosen
        if scheme == "h2" and isinstance(proto, H2Connection) and proto.transport is not None:
            ssl_object = proto.transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
                proto.close()
                raise UpstreamError(
                    "connect", f"{host}:{port} does not offer HTTP/2 (ALPN h2) over TLS", before_send=True
                )
        assert isinstance(proto, UpstreamConnection | H2Connection)
        transport = proto.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return proto

    # ------------------------------------------------------------ HTTP/2 connections

    def speaks_h2(self, key: Key, tls: BackendTLS | None) -> bool:
        """True when an https backend chose HTTP/2 by ALPN before (its connections are multiplexed)."""
        return (key[0], key[1], tls) in self._h2_by_alpn

    async def h2_connection(
        self, key: Key, scheme: str, tls: BackendTLS | None, connect_timeout: float | None = None
    ) -> H2Connection:
        """An HTTP/2 connection to `key` with room for one more stream: a shared one, else a new one
        (once the backend's SETTINGS say how many streams it takes), else, with
        `h2_max_connections_per_upstream` open and all full, the first to have room again within
        the connect timeout (UpstreamError "timeout", before_send, when none has)."""
        pool_key = (key[0], key[1], scheme, tls)
        timeout = connect_timeout or self.options.connect_timeout
        deadline = self._loop.time() + timeout
        while True:
            conns = self._h2.get(pool_key, ())
            for conn in conns:
                if conn.available:
                    return conn
            pending = self._h2_connecting.get(pool_key)
            if pending is not None:
                # Requests that arrive together share the connection being opened rather than each open one.
                with contextlib.suppress(UpstreamError):
                    await asyncio.shield(pending)
                continue
            usable = sum(1 for c in conns if not c.closed and not c.going_away)
            if usable < self.options.h2_max_connections_per_upstream:
                break
            await self._h2_room(pool_key, key, deadline)
        pending = self._h2_connecting[pool_key] = self._loop.create_future()
        try:
            proto = await self._open(key, scheme, tls, self._http1_factory(key), connect_timeout)
            if isinstance(proto, H2Connection):
                await self._h2_settings(proto, key, deadline)
        except BaseException as exc:
            if not pending.done():
                pending.set_exception(
                    exc if isinstance(exc, UpstreamError) else UpstreamError("connect", "cancelled")
                )
                pending.exception()  # retrieved: waiters retry on their own
            raise
        finally:
            self._h2_connecting.pop(pool_key, None)
            if not pending.done():
                pending.set_result(None)
        if isinstance(proto, UpstreamConnection):
            # The backend went back to HTTP/1.1 by ALPN: forget what it chose before.
            self._h2_by_alpn.discard((key[0], key[1], tls))
            proto.tls = tls
            proto.close()
            raise UpstreamError("connect", f"{key[0]}:{key[1]} no longer offers HTTP/2", before_send=True)
        self._add_h2(proto, scheme, tls)
        return proto

    async def _h2_settings(self, conn: H2Connection, key: Key, deadline: float) -> None:
        """Wait for the backend's first SETTINGS (its SETTINGS_MAX_CONCURRENT_STREAMS)."""
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(conn.ready)
        except TimeoutError:
            conn.close()
            raise UpstreamError(
                "connect", f"no HTTP/2 SETTINGS from {key[0]}:{key[1]} in time", before_send=True
            ) from None
        except BaseException:
            conn.close()
            raise

    async def _h2_room(self, pool_key: H2Key, key: Key, deadline: float) -> None:
        """Wait until a connection of `pool_key` may have room for a stream (or may be replaced)."""
        waiter = self._loop.create_future()
        self._h2_waiters.setdefault(pool_key, []).append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except TimeoutError:
            limit = self.options.h2_max_connections_per_upstream
            raise UpstreamError(
                "timeout",
                f"all {limit} HTTP/2 connections to {key[0]}:{key[1]} have every stream busy",
                before_send=True,
            ) from None
        finally:
            waiters = self._h2_waiters.get(pool_key)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._h2_waiters[pool_key]

    def _h2_changed(self, pool_key: H2Key) -> None:
        """A connection of `pool_key` ended a stream, changed its limits or closed: its waiters look
        again (those that find no room wait on)."""
        for waiter in self._h2_waiters.pop(pool_key, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _http1_factory(self, key: Key) -> Callable[[], UpstreamConnection]:
        opts = self.options
        loop = self._loop
        read_buffer = self._read_buffer
        deadlines = self._deadlines
        return lambda: UpstreamConnection(
            key, loop, opts.read_high_water, opts.max_head_bytes, read_buffer, deadlines
        )

    def _add_h2(self, conn: H2Connection, scheme: str, tls: BackendTLS | None) -> None:
        key = conn.key
        if scheme == "https":
            self._h2_by_alpn.add((key[0], key[1], tls))
        kind = "h2c" if scheme == "h2c" else "h2" if scheme == "h2" else "https"
        pool_key: H2Key = (key[0], key[1], kind, tls)
        conns = [c for c in self._h2.get(pool_key, ()) if not c.closed]
        conns.append(conn)
        self._h2[pool_key] = conns
        conn.on_change = lambda: self._h2_changed(pool_key)
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self.options.pool_idle_seconds, self._sweep)

    def release(self, conn: UpstreamConnection) -> None:
        """Return a connection after a complete response; it is closed unless it can be reused."""
        if self._closed or not conn.reusable:
            conn.close()
            return
        idle_key: PoolKey = conn.key if conn.tls is None else (conn.key[0], conn.key[1], conn.tls)
        idle = self._idle.get(idle_key)
        if idle is None:
            idle = self._idle[idle_key] = []
        if len(idle) >= self.options.pool_max_idle_per_upstream:
            conn.close()
            return
        conn.idle_since = self._loop.time()
        idle.append(conn)
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self.options.pool_idle_seconds, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        now = self._loop.time()
        limit = self.options.pool_idle_seconds
        remaining = False
        for key, idle in list(self._idle.items()):
            keep = [c for c in idle if not c.closed and now - c.idle_since < limit]
            for c in idle:
                if c not in keep:
                    c.close()
            if keep:
                self._idle[key] = keep
                remaining = True
            else:
                del self._idle[key]
        for h2_key, h2_conns in list(self._h2.items()):
            kept: list[H2Connection] = []
            for h2_conn in h2_conns:
                if h2_conn.closed or (not h2_conn.streams and now - h2_conn.idle_since >= limit):
                    h2_conn.close()
                else:
                    kept.append(h2_conn)
            if kept:
                self._h2[h2_key] = kept
                remaining = True
            else:
                del self._h2[h2_key]
        if remaining and not self._closed:
            self._sweeper = self._loop.call_later(limit / 2, self._sweep)

    def idle_count(self, key: Key | None = None) -> int:
        if key is not None:
            return sum(len(v) for k, v in self._idle.items() if (k[0], k[1]) == key)
        return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        self._closed = True
        self._deadlines.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        for conns in self._h2.values():
            for h2conn in conns:
                h2conn.close()
        self._h2.clear()
