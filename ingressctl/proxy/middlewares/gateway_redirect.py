"""HTTPRoute RequestRedirect: the request's own URL with scheme, host, port or path replaced."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.gateway.chain import GatewayRedirectSpec
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.exchange import Exchange, bare_host, request_scheme


class GatewayRedirect:
    __slots__ = ("spec",)

    name = GatewayRedirectSpec.name

    def __init__(self, spec: GatewayRedirectSpec) -> None:
        self.spec = spec

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        info = exchange.entrypoints.get(exchange.ep.name)
        # Without scheme and port in the filter, the port is the listener's: the entrypoint's.
        port = info.port if info is not None else None
        host = bare_host(exchange.host)
        if host.startswith("["):
            host = host[1:-1]
        _, _, query = exchange.target.partition("?")
        location = self.spec.location(request_scheme(exchange), host, port, exchange.path, query)
        status = self.spec.redirect.status_code
        return BareResponse(
            status=status, text=f"Redirecting to {location}\n", headers={"Location": location}
        )
