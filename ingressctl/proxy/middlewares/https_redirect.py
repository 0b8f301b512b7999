"""The https redirect (Traefik ssl-redirect with ssl-temporary-redirect, ssl-host, ssl-force-host and
ssl-proxy-headers; ingress-nginx ssl-redirect and force-ssl-redirect): plain-HTTP requests go to the
https entrypoint, keeping the path and query."""

from __future__ import annotations

import logging

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.exchange import Exchange, arrived_over_tls, bare_host, https_entrypoint
from ingressctl.routing.chain_rewrites import HttpsRedirectSpec

log = logging.getLogger("ingressctl.proxy")


class HttpsRedirect:
    __slots__ = ("force_host", "host", "plain", "status", "tls_headers")

    name = HttpsRedirectSpec.name

    def __init__(self, spec: HttpsRedirectSpec) -> None:
        self.status = spec.status
        self.host = spec.host
        self.force_host = spec.force_host
        self.plain = spec.plain
        self.tls_headers = spec.tls_headers

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        other_host = self.force_host and self.host and exchange.host.lower() != self.host.lower()
        if not other_host and (not self.plain or arrived_over_tls(exchange, self.tls_headers)):
            return None
        target = https_entrypoint(exchange.entrypoints)
        if target is None:
            log.error("route %s: https redirect without a TLS entrypoint", exchange.route_id)
            return error(500, "Internal Server Error")
        if self.host:
            authority = self.host  # ssl-host, as written (it may carry its own port)
        else:
            authority = bare_host(exchange.host) if exchange.host else ""
            if not authority:
                return error(400, "Bad Request: missing Host header")
            if target.port != 443:
                authority += f":{target.port}"
        location = f"https://{authority}{exchange.target}"
        status = self.status
        if status == 301 and exchange.request.method not in ("GET", "HEAD"):
            status = 308  # 301 lets clients turn a POST into a GET
        return BareResponse(
            status=status, text=f"Redirecting to {location}\n", headers={"Location": location}
        )
