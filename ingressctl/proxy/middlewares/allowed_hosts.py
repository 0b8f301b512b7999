"""allowed-hosts (Traefik 1.7's security headers): requests for other hosts are refused with 421.

Traefik (unrolled/secure) answers 500 "Bad Host"; 421 Misdirected Request (RFC 9110 15.5.20) is the
status for a server unwilling to answer for the target's host, and does not page anyone for a 5xx.
"""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange, bare_host
from ingressctl.routing.chain_rewrites import AllowedHostsSpec


class AllowedHosts:
    __slots__ = ("hosts",)

    name = AllowedHostsSpec.name

    def __init__(self, spec: AllowedHostsSpec) -> None:
        self.hosts = frozenset(spec.hosts)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        host = exchange.host.lower()
        # An entry with a port must match the Host header with its port; one without, any port.
        if host in self.hosts or bare_host(host) in self.hosts:
            return None
        return error(421, "Misdirected Request: host not allowed")
