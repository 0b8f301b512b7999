"""path-rewrite (Traefik rewrite-target, request-modifier AddPrefix / ReplacePath / ReplacePathRegex,
rule-type ReplacePath): the path sent upstream changes; the one it replaced goes in X-Replaced-Path
(as Traefik), except for AddPrefix."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.model.rewrites import PathRewriteKind
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_rewrites import PathRewriteSpec


class PathRewrite:
    __slots__ = ("records", "spec")

    name = PathRewriteSpec.name

    def __init__(self, spec: PathRewriteSpec) -> None:
        self.spec = spec
        self.records = spec.kind is not PathRewriteKind.ADD_PREFIX

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        new = self.spec.apply(exchange.path)
        if new is None:
            return None
        if self.records:
            exchange.set_upstream_header("X-Replaced-Path", exchange.path)
        exchange.path = new
        return None
