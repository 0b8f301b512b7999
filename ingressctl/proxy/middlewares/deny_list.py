"""ip-deny-list (ingress-nginx denylist-source-range): 403 for client addresses in the ranges."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import SourceRanges
from ingressctl.routing.chain_access import DenyListSpec


class DenyList:
    __slots__ = ("ranges",)

    name = DenyListSpec.name

    def __init__(self, spec: DenyListSpec) -> None:
        self.ranges = SourceRanges(spec.source_ranges)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        # The peer, as the allow-list judges it (ingress-nginx's $remote_addr).
        if self.ranges.allows(exchange.request.remote or ""):
            return error(403, "Forbidden")
        return None
