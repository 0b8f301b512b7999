"""rate-limit (Traefik rate-limit, ingress-nginx limit-rps/limit-rpm): token buckets per source.

Each bucket is kept as one float, GCRA style: the time at which the source's bucket would be full
again. A request takes a token when that time, plus one emission interval, is at most `burst`
intervals ahead of now; otherwise it is refused and told when the next token comes (Retry-After).
A source whose time has passed has a full bucket and needs no entry: those are swept out as the
table grows, so memory follows the sources active within one refill period (about 130 bytes
each), and a hard cap drops the fullest buckets first when even that is too many.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

from aiohttp.web_response import StreamResponse

from ingressctl.model.access import RateSet, SourceKey, SourceKind
from ingressctl.proxy.answers import error
from ingressctl.proxy.client import client_address
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import SourceRanges
from ingressctl.routing.chain_access import RateLimitSpec

MAX_SOURCES = 250_000  # per rate set: ~33 MB at worst
_SWEEP_MIN = 1024


class TokenBuckets:
    """One rate set's buckets, keyed by source."""

    __slots__ = ("_full_at", "_next_sweep", "interval", "max_sources", "tolerance")

    def __init__(self, rate: RateSet, max_sources: int = MAX_SOURCES) -> None:
        self.interval = rate.period / rate.average  # seconds per token
        self.tolerance = self.interval * rate.burst  # how far ahead the full-time may run
        self.max_sources = max_sources
        self._full_at: dict[str, float] = {}
        self._next_sweep = _SWEEP_MIN

    def __len__(self) -> int:
        return len(self._full_at)

    def wait(self, key: str, now: float) -> float:
        """0 when `key` has a token now, else the seconds until it has one."""
        full_at = self._full_at.get(key, now)
        ahead = max(full_at, now) + self.interval - self.tolerance
        return ahead - now if ahead > now else 0.0

    def take(self, key: str, now: float) -> None:
        """Take a token (after `wait` said there is one)."""
        table = self._full_at
        full_at = table.get(key, now)
        table[key] = max(full_at, now) + self.interval
        if len(table) >= self._next_sweep:
            self._sweep(now)

    def try_take(self, key: str, now: float) -> float:
        """`wait` and, when it is 0, `take`, with one look-up (a route with one rate set)."""
        table = self._full_at
        full_at = table.get(key, now)
        start = full_at if full_at > now else now
        ahead = start + self.interval - self.tolerance
        if ahead > now:
            return ahead - now
        table[key] = start + self.interval
        if len(table) >= self._next_sweep:
            self._sweep(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        table = self._full_at
        full = [key for key, at in table.items() if at <= now]
        for key in full:
            del table[key]
        if len(table) > self.max_sources:
            # Keep the emptiest buckets: forgetting a nearly full one costs its source little.
            keep = sorted(table.items(), key=lambda item: item[1])[len(table) - self.max_sources :]
            self._full_at = table = dict(keep)
        self._next_sweep = max(_SWEEP_MIN, 2 * len(table))


# Looked up once: an enum member read through its class costs a descriptor call per request.
_CLIENT_IP: Final = SourceKind.CLIENT_IP
_HOST: Final = SourceKind.HOST


def source_of(exchange: Exchange, source: SourceKey) -> str:
    """The bucket key of a request (Traefik's extractorFunc). A request without the header shares
    one bucket with the others that lack it: never a way around the limit."""
    kind = source.kind
    if kind is _CLIENT_IP:
        return client_address(exchange.request, exchange.ep.trusted)
    if kind is _HOST:
        return exchange.host.lower()
    return exchange.request.headers.get(source.header, "")


class RateLimiter:
    __slots__ = ("_by_peer", "_single", "buckets", "clock", "exempt", "source", "status", "text")

    name = RateLimitSpec.name

    def __init__(self, spec: RateLimitSpec, clock: Callable[[], float] = time.monotonic) -> None:
        limit = spec.limit
        self.buckets = tuple(TokenBuckets(rate) for rate in limit.rates)
        # The common case, one rate set: one look-up per request (TokenBuckets.try_take).
        self._single = self.buckets[0] if len(self.buckets) == 1 else None
        self.source = limit.source
        self._by_peer = limit.source.kind is _CLIENT_IP
        self.status = limit.status
        self.text = "Too Many Requests" if limit.status == 429 else "Service Temporarily Unavailable"
        self.exempt = SourceRanges(limit.exempt) if limit.exempt else None
        self.clock = clock

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        return self.check(exchange)

    def check(self, exchange: Exchange) -> StreamResponse | None:
        exempt = self.exempt
        if exempt is not None and exempt.allows(client_address(exchange.request, exchange.ep.trusted)):
            return None
        if self._by_peer and not exchange.ep.trusted.configured:
            # client.ip without trusted proxies: the peer (source_of's answer, without two calls)
            key = exchange.request.remote or ""
        else:
            key = source_of(exchange, self.source)
        now = self.clock()
        single = self._single
        if single is not None:
            wait = single.try_take(key, now)
            if wait > 0:
                return self._refuse(exchange, wait)
            return None
        buckets = self.buckets
        wait = max(b.wait(key, now) for b in buckets)
        if wait > 0:
            return self._refuse(exchange, wait)
        for bucket in buckets:
            bucket.take(key, now)
        return None

    def _refuse(self, exchange: Exchange, wait: float) -> StreamResponse:
        exchange.outcome.refused_by = self.name
        return error(self.status, self.text, {"Retry-After": str(max(1, math.ceil(wait)))})
