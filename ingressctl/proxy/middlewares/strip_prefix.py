"""strip-prefix (PathPrefixStrip): the matched prefix is removed from the path sent upstream."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain import StripPrefixSpec


class StripPrefix:
    __slots__ = ("prefix",)

    name = StripPrefixSpec.name

    def __init__(self, spec: StripPrefixSpec) -> None:
        self.prefix = spec.prefix

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        exchange.path = strip(exchange.path, self.prefix)
        return None


def strip(path: str, prefix: str) -> str:
    """Remove `prefix` (no trailing slash) from the start of `path`; the result starts with "/"."""
    if not path.startswith(prefix):
        return path
    rest = path[len(prefix) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else "/" + rest
