"""in-flight-limit (Traefik max-conn-amount, ingress-nginx limit-connections): at most N requests
in progress per source; a slot is held until the answer is sent (whichever stage answers)."""

from __future__ import annotations

import weakref

from aiohttp.web_response import StreamResponse

from ingressctl.model.access import SourceKey, SourceKind
from ingressctl.proxy.answers import error
from ingressctl.proxy.client import client_address
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import SourceRanges
from ingressctl.routing.chain_access import InFlightSpec


class _Counts(dict[str, int]):
    """Requests in progress per source (a dict that can be weakly referenced)."""


# Counts shared by every route of one Service (max-conn-amount), and kept across reloads while a
# route or a request in progress still holds them.
_SHARED: weakref.WeakValueDictionary[tuple[str, int, SourceKey], _Counts] = weakref.WeakValueDictionary()


def _counts(shared_by: str, amount: int, source: SourceKey) -> _Counts:
    if not shared_by:
        return _Counts()
    key = (shared_by, amount, source)
    counts = _SHARED.get(key)
    if counts is None:
        counts = _SHARED[key] = _Counts()
    return counts


class InFlight:
    __slots__ = ("amount", "exempt", "in_progress", "source", "status", "text")

    name = InFlightSpec.name

    def __init__(self, spec: InFlightSpec) -> None:
        limit = spec.limit
        self.amount = limit.amount
        self.source: SourceKey = limit.source
        self.status = limit.status
        self.text = "Too Many Requests" if limit.status == 429 else "Service Temporarily Unavailable"
        self.exempt = SourceRanges(limit.exempt) if limit.exempt else None
        # Only sources with requests in progress have an entry: memory follows concurrency.
        self.in_progress = _counts(limit.shared_by, limit.amount, limit.source)

    def _key(self, exchange: Exchange) -> str:
        if self.source.kind is SourceKind.CLIENT_IP:
            return client_address(exchange.request, exchange.ep.trusted)
        if self.source.kind is SourceKind.HOST:
            return exchange.host.lower()
        return exchange.request.headers.get(self.source.header, "")

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        exempt = self.exempt
        if exempt is not None and exempt.allows(client_address(exchange.request, exchange.ep.trusted)):
            return None
        key = self._key(exchange)
        count = self.in_progress.get(key, 0)
        if count >= self.amount:
            exchange.outcome.refused_by = self.name
            return error(self.status, self.text)
        counts = self.in_progress
        counts[key] = count + 1
        exchange.when_done(lambda: _release(counts, key))
        return None


def _release(counts: _Counts, key: str) -> None:
    left = counts.get(key, 1) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
