"""The request-body limit (Traefik buffering maxRequestBodyBytes, ingress-nginx proxy-body-size).

A declared Content-Length over the limit is refused here, before any endpoint is contacted. A chunked
body is counted while it streams (ingressctl.proxy.forward): over the limit, the upstream request is
cut and the client gets 413 unless the upstream has answered already.
"""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_backend import BodyLimitSpec


class BodyLimit:
    __slots__ = ("max_bytes",)

    name = BodyLimitSpec.name

    def __init__(self, spec: BodyLimitSpec) -> None:
        self.max_bytes = spec.max_bytes

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        length = exchange.request.content_length
        if length is not None and length > self.max_bytes:
            # The body is not read: the connection cannot be reused for a next request.
            return error(413, "Payload Too Large", {"Connection": "close"})
        return None
