"""The circuit breaker: watches a route's recent answers and, while its condition holds, answers 503 at
once instead of sending more requests to a failing backend.

Closed: every request goes through; answers are counted in one-second buckets over the window and the
condition is checked at most every 100 ms (as Traefik's oxy does). Open: 503 for the fallback time.
Half-open: one probe at a time goes through; `probes_to_close` probes in a row that leave the
condition false close the breaker, a probe that makes it true opens it again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp.web_response import StreamResponse

from ingressctl.model.backend_policy import BreakerComparison, BreakerCondition, CircuitBreaker
from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_backend import CircuitBreakerSpec

_CHECK_EVERY = 0.1
_LATENCIES_PER_BUCKET = 1024  # enough for a quantile; memory stays bounded under any load

# Requests answered 503 by an open breaker, per route id, since the process started (for /metrics).
_BROKEN: dict[str, int] = {}


def broken_requests() -> dict[str, int]:
    """Circuit-broken requests per route id since the process started."""
    return dict(_BROKEN)


class _Bucket:
    __slots__ = ("codes", "latencies", "second", "total")

    def __init__(self, second: int) -> None:
        self.second = second
        self.total = 0
        self.codes: dict[int, int] = {}
        self.latencies: list[float] = []


class Window:
    """Answers of the last `seconds`, in one-second buckets."""

    __slots__ = ("_buckets", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = max(1, int(seconds))
        self._buckets: deque[_Bucket] = deque()

    def add(self, now: float, status: int, seconds: float) -> None:
        second = int(now)
        buckets = self._buckets
        if not buckets or buckets[-1].second != second:
            buckets.append(_Bucket(second))
        self._expire(now)
        bucket = buckets[-1]
        bucket.total += 1
        bucket.codes[status] = bucket.codes.get(status, 0) + 1
        if len(bucket.latencies) < _LATENCIES_PER_BUCKET:
            bucket.latencies.append(seconds)

    def _expire(self, now: float) -> None:
        oldest = int(now) - self._seconds + 1
        while self._buckets and self._buckets[0].second < oldest:
            self._buckets.popleft()

    def holds(self, condition: BreakerCondition, now: float) -> bool:
        self._expire(now)
        if isinstance(condition, BreakerComparison):
            return _compare(self.metric(condition), condition.operator, condition.value)
        left = self.holds(condition.left, now)
        if condition.operator == "&&":
            return left and self.holds(condition.right, now)
        return left or self.holds(condition.right, now)

    def _count(self, low: float, high: float) -> int:
        return sum(n for b in self._buckets for code, n in b.codes.items() if low <= code < high)

    def metric(self, comparison: BreakerComparison) -> float:
        metric = comparison.metric
        total = sum(b.total for b in self._buckets)
        if metric.function == "NetworkErrorRatio":
            # As Traefik (oxy) counts them: answers 502 and 504 are network errors.
            errors = sum(b.codes.get(502, 0) + b.codes.get(504, 0) for b in self._buckets)
            return errors / total if total else 0.0
        if metric.function == "ResponseCodeRatio":
            a, b, c, d = metric.arguments
            divisor = self._count(c, d)
            return self._count(a, b) / divisor if divisor else 0.0
        latencies = sorted(x for bucket in self._buckets for x in bucket.latencies)
        if not latencies:
            return 0.0
        index = min(len(latencies) - 1, max(0, int(len(latencies) * metric.arguments[0] / 100.0 + 0.5) - 1))
        return latencies[index] * 1000.0


def _compare(value: float, operator: str, limit: float) -> bool:
    if operator == ">":
        return value > limit
    if operator == ">=":
        return value >= limit
    if operator == "<":
        return value < limit
    if operator == "<=":
        return value <= limit
    if operator == "==":
        return value == limit
    return value != limit


class Breaker:
    """The state of one route's breaker. `clock`: monotonic seconds (injected by tests)."""

    __slots__ = (
        "_clock",
        "_dirty",
        "_next_check",
        "_open_until",
        "_probe_since",
        "_probes_ok",
        "_window",
        "config",
        "state",
    )

    def __init__(self, config: CircuitBreaker, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self.state = "closed"
        self._window = Window(config.window_seconds)
        self._next_check = 0.0
        self._dirty = False  # answers recorded since the last check
        self._open_until = 0.0
        self._probe_since: float | None = None
        self._probes_ok = 0

    def allow(self) -> bool:
        """Whether a request may go to the backend now (counts it as a probe when half-open)."""
        if self.state == "closed":
            if not self._dirty:
                return True
            now = self._clock()
            if now < self._next_check:
                return True
            self._check(now)
            if self.state == "closed":
                return True
        now = self._clock()
        if self.state == "open":
            if now < self._open_until:
                return False
            self.state = "half-open"
            self._window = Window(self.config.window_seconds)
            self._probes_ok = 0
            self._probe_since = None
        # Half-open: one probe at a time; a probe that never reports (client gone) is replaced.
        if self._probe_since is not None and now - self._probe_since < self.config.fallback_seconds:
            return False
        self._probe_since = now
        return True

    def record(self, status: int, seconds: float) -> None:
        now = self._clock()
        state = self.state
        if state == "open":
            return
        self._window.add(now, status, seconds)
        if state == "closed":
            self._dirty = True
            if now >= self._next_check:
                self._check(now)
            return
        self._probe_since = None
        if self._window.holds(self.config.condition, now):
            self._trip(now)
            return
        self._probes_ok += 1
        if self._probes_ok >= self.config.probes_to_close:
            self.state = "closed"
            self._window = Window(self.config.window_seconds)
            self._next_check = 0.0
            self._dirty = False

    def _check(self, now: float) -> None:
        """Evaluate the condition (closed state), at most every 100 ms."""
        self._next_check = now + _CHECK_EVERY
        self._dirty = False
        if self._window.holds(self.config.condition, now):
            self._trip(now)

    def _trip(self, now: float) -> None:
        self.state = "open"
        self._open_until = now + self.config.fallback_seconds

    async def observe(self, forwarding: Awaitable[StreamResponse]) -> StreamResponse:
        """Await the forwarded answer and count it (status, and time to its head)."""
        start = self._clock()
        response = await forwarding
        self.record(response.status, self._clock() - start)
        return response


class CircuitBreakerMiddleware:
    """The chain's stage: 503 at once while the breaker does not allow the request."""

    __slots__ = ("breaker",)

    name = CircuitBreakerSpec.name

    def __init__(self, spec: CircuitBreakerSpec) -> None:
        self.breaker = Breaker(spec.breaker)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        if self.breaker.allow():
            return None
        _BROKEN[exchange.route_id] = _BROKEN.get(exchange.route_id, 0) + 1
        return error(503, "Service Unavailable: the route's circuit breaker is open")
