"""ingress-nginx CORS: preflight answered by the proxy, CORS headers on the other answers."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.bare import ANSWER_HEADERS, BareResponse
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_nginx import CorsSpec


class Cors:
    __slots__ = ("spec",)

    name = CorsSpec.name

    def __init__(self, spec: CorsSpec) -> None:
        self.spec = spec

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        request = exchange.request
        allowed = self.spec.allowed_origin(request.headers.get("Origin"))
        if allowed is None:
            return None  # not an allowed origin: the request goes on as any other (as ingress-nginx)
        if request.method == "OPTIONS":
            headers = self.spec.headers(allowed, preflight=True)
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
            return BareResponse(status=204, headers=headers)
        request[ANSWER_HEADERS] = self.spec.headers(allowed, preflight=False)
        return None
