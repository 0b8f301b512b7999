"""strip-prefix (PathPrefixStrip): the matched prefix is removed from the path sent upstream."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain import StripPrefixSpec


class StripPrefix:
    __slots__ = ("spec",)

    name = StripPrefixSpec.name

    def __init__(self, spec: StripPrefixSpec) -> None:
        self.spec = spec

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        exchange.path = self.spec.apply(exchange.path) or exchange.path
        return None
