"""ingress-nginx rewrite-target: the path sent upstream is rebuilt from the declared path's groups
(the rewrite itself is the spec's, so `routes --explain` shows exactly what is sent)."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_nginx import RewriteTargetSpec


class RewriteTarget:
    __slots__ = ("spec",)

    name = RewriteTargetSpec.name

    def __init__(self, spec: RewriteTargetSpec) -> None:
        self.spec = spec

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        exchange.path = self.spec.rewrite(exchange.path)
        return None
