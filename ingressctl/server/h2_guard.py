"""Budgets that bound what one HTTP/2 client can make the proxy do without sending real requests.

- Rapid reset (CVE-2023-44487): a client opens streams and resets them at once; each costs the
  proxy a request (routing, maybe an upstream connection) while never counting against the
  concurrent-stream limit. Resets by the client, and streams the proxy had to refuse or reset for
  a malformed head, draw from a token bucket; an empty bucket closes the connection with
  GOAWAY(ENHANCE_YOUR_CALM). The handlers of reset streams are cancelled, so a request already sent
  upstream is abandoned there too.
- Control-frame floods (SETTINGS, PING, empty DATA, PRIORITY, unknown frames): each is cheap, but
  several answer with a frame of their own (PING and SETTINGS acks) that a client that never reads
  would pile up in the proxy's send buffer. Same bucket, its own rate.

A bucket holds twice its rate and refills continuously: a client can burst, but not sustain.
"""

from __future__ import annotations

from collections.abc import Callable


class Budget:
    """A token bucket: `take()` is False once the client has spent more than it earned."""

    __slots__ = ("_capacity", "_clock", "_last", "_rate", "_tokens")

    def __init__(self, per_second: int, clock: Callable[[], float]) -> None:
        self._rate = float(per_second)
        self._capacity = 2.0 * per_second
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True
