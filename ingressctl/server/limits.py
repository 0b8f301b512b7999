"""What one client may hold on an entrypoint: connections, time to send a request head, responses
it has not read. The per-connection side lives in server/protocol.py; this module keeps the state
shared by one entrypoint's connections, and the process-wide open-files limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Protocol

from ingressctl.model.config import ConnectionLimits

log = logging.getLogger("ingressctl.server")

# Over maxConnections: a short answer, then the connection is closed (the established ones go on).
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 45\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nService Unavailable: too many connections open\n"
)
# The request head did not arrive in time (as nginx answers; Go closes without a word).
HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
    b"Connection: close\r\n\r\nRequest Timeout\n"
)
# Refusals are logged at most this often per entrypoint, with the count since the last line.
REFUSAL_LOG_SECONDS = 10.0


class HeadWaiter(Protocol):
    """A connection whose request head is being waited for."""

    def head_timed_out(self) -> None: ...


class EntrypointGate:
    """One entrypoint's connection count and request-head deadlines (one per worker process).

    Deadlines are checked by one periodic timer, as upstream deadlines are (proxy/upstream/deadlines.py): a
    timer per request head would cost a timer allocation per request; here waiting for a head that
    spans several reads is a dict insert and removal, and a head that arrives in one read costs
    nothing. Expiry is noticed within a quarter of the timeout (at most a second late).
    """

    __slots__ = ("_last_log", "_timer", "_unlogged", "_waiting", "limits", "name", "open")

    def __init__(self, name: str, limits: ConnectionLimits) -> None:
        self.name = name
        self.limits = limits
        self.open = 0
        self._waiting: dict[HeadWaiter, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._last_log = float("-inf")
        self._unlogged = 0

    # ------------------------------------------------------------ connection cap

    def admit(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Count a new connection in, or say no (and log that, rate-limited) when the cap is reached."""
        cap = self.limits.max_connections
        if not cap or self.open < cap:
            self.open += 1
            return True
        self._unlogged += 1
        now = loop.time()
        if now - self._last_log >= REFUSAL_LOG_SECONDS:
            log.warning(
                "entrypoint %s: %d connections open (maxConnections); refused %d new connection%s with 503",
                self.name,
                self.open,
                self._unlogged,
                "" if self._unlogged == 1 else "s",
            )
            self._last_log = now
            self._unlogged = 0
        return False

    def release(self) -> None:
        self.open -= 1

    # ------------------------------------------------------------ request-head deadlines

    def wait_head(self, conn: HeadWaiter, loop: asyncio.AbstractEventLoop) -> None:
        timeout = self.limits.read_header_timeout
        self._waiting[conn] = loop.time() + timeout
        if self._timer is None:
            self._timer = loop.call_later(self._tick(), self._check, loop)

    def head_arrived(self, conn: HeadWaiter) -> None:
        self._waiting.pop(conn, None)

    def waiting_head(self, conn: HeadWaiter) -> bool:
        return conn in self._waiting

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()

    def _tick(self) -> float:
        return min(max(self.limits.read_header_timeout / 4, 0.01), 1.0)

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        expired = [conn for conn, deadline in self._waiting.items() if deadline <= now]
        for conn in expired:
            del self._waiting[conn]
            conn.head_timed_out()
        if self._waiting:
            self._timer = loop.call_later(self._tick(), self._check, loop)


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (each client and upstream connection is a file
    descriptor; the usual soft limit of 1024 would refuse connections long before memory runs out).
    Returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # Linux refuses an infinite soft limit: its ceiling is nr_open
        try:
            with open("/proc/sys/fs/nr_open") as f:
                target = int(f.read())
        except (OSError, ValueError):
            target = 1024 * 1024
    if soft == target:
        return soft, hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
        return soft, hard
    log.debug("open-files limit raised from %d to %d", soft, target)
    return target, hard
