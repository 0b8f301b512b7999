"""The timeouts of upstream connections, checked by one periodic timer per event loop."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Expiring(Protocol):
    """A connection whose wait may time out (its deadline fields are set by `Deadlines.watch`)."""

    _deadline: float
    _deadline_what: str

    def _expire(self) -> None: ...


class Deadlines:
    """The timeouts of the upstream connections of one event loop, checked by one periodic timer.

    A timer per request (`call_later`, then `cancel`: with uvloop a libuv timer allocated,
    started and stopped) cost more than the rest of waiting for a small response's head; here
    a wait is a set insert and removal. Expiry is noticed within a quarter of the shortest
    timeout seen (at most a second late).
    """

    __slots__ = ("_loop", "_tick", "_timer", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._tick = 1.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: set[Expiring] = set()

    def watch(self, conn: Expiring, timeout: float, what: str) -> None:
        conn._deadline = self._loop.time() + timeout
        conn._deadline_what = what
        self._waiting.add(conn)
        if timeout < 4 * self._tick:
            self._tick = max(timeout / 4, 0.005)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._timer is None:
            self._timer = self._loop.call_later(self._tick, self._check)

    def unwatch(self, conn: Expiring) -> None:
        self._waiting.discard(conn)

    def watching(self, conn: Expiring) -> bool:
        return conn in self._waiting

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        now = self._loop.time()
        waiting = self._waiting
        expired = [c for c in waiting if c._deadline <= now]
        for conn in expired:
            waiting.discard(conn)
            conn._expire()
        if waiting:
            self._timer = self._loop.call_later(self._tick, self._check)
