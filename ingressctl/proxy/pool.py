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

from ingressctl.model.upstream_protocol import BackendTLS
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.upstream import Deadlines, ReadBuffer, UpstreamConnection, UpstreamError
from ingressctl.proxy.upstream.tls import TLSContexts

Key = tuple[str, int]
# Idle connections are kept per address and TLS settings: a connection opened without verification
# must never serve a route that asks for it.
IdleKey = tuple[str, int, BackendTLS | None]


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
        self._idle: dict[IdleKey, list[UpstreamConnection]] = {}
        # address -> (ejected until clock(), consecutive connect failures)
        self._ejected: dict[Key, tuple[float, int]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._tls = TLSContexts(alpn={"https": ["http/1.1"]})
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
        idle = self._idle.get((key[0], key[1], tls))
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
        self, key: Key, scheme: str = "http", tls: BackendTLS | None = None
    ) -> tuple[UpstreamConnection, bool]:
        """A connection to `key`: an idle one when available (reused=True), else a new one.

        Raises UpstreamError (kind "connect", before_send True) when no connection could be made.
        """
        conn = self.take_idle(key, tls)
        if conn is not None:
            return conn, True
        return await self._connect(key, scheme, tls), False

    async def _connect(self, key: Key, scheme: str, tls: BackendTLS | None = None) -> UpstreamConnection:
        opts = self.options
        loop = self._loop
        host, port = key
        ssl_ctx: ssl.SSLContext | None = None
        server_name: str | None = None
        if scheme in ("https", "h2"):
            # A route compiled from manifests always carries its settings; a bare https backend
            # (built by hand) keeps the old unverified encryption.
            settings = tls if tls is not None else BackendTLS(verify=False)
            ssl_ctx = self._tls.context(settings, scheme)
            server_name = settings.server_name or host
        read_buffer = self._read_buffer
        deadlines = self._deadlines
        try:
            async with asyncio.timeout(opts.connect_timeout):
                _, proto = await loop.create_connection(
                    lambda: UpstreamConnection(
                        key, loop, opts.read_high_water, opts.max_head_bytes, read_buffer, deadlines
                    ),
                    host,
                    port,
                    ssl=ssl_ctx,
                    server_hostname=server_name,
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
        proto.tls = tls
        transport = proto.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return proto

    def release(self, conn: UpstreamConnection) -> None:
        """Return a connection after a complete response; it is closed unless it can be reused."""
        if self._closed or not conn.reusable:
            conn.close()
            return
        idle_key = (conn.key[0], conn.key[1], conn.tls)
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
