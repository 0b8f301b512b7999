"""ip-allow-list (whitelist-source-range, allowlist-source-range, ipWhiteList/ipAllowList): 403 for
other client addresses; with whitelist-x-forwarded-for, the address a trusted proxy forwarded for."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.client import client_address
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import SourceRanges
from ingressctl.routing.chain import AllowListSpec


class AllowList:
    __slots__ = ("forwarded_for", "ranges")

    name = AllowListSpec.name

    def __init__(self, spec: AllowListSpec) -> None:
        self.ranges = SourceRanges(spec.source_ranges)
        self.forwarded_for = spec.forwarded_for

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        request = exchange.request
        # aiohttp caches the peer address per connection; `remote` reads it.
        address = client_address(request, exchange.ep.trusted) if self.forwarded_for else request.remote
        if self.ranges.allows(address or ""):
            return None
        return error(403, "Forbidden")
