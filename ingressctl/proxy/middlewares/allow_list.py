"""ip-allow-list (whitelist-source-range, ipWhiteList/ipAllowList): 403 for other client addresses."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import SourceRanges
from ingressctl.routing.chain import AllowListSpec


class AllowList:
    __slots__ = ("ranges",)

    name = AllowListSpec.name

    def __init__(self, spec: AllowListSpec) -> None:
        self.ranges = SourceRanges(spec.source_ranges)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        # aiohttp caches the peer address per connection; `remote` reads it.
        if self.ranges.allows(exchange.request.remote or ""):
            return None
        return error(403, "Forbidden")
