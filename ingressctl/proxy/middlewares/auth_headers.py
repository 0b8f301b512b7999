"""auth-headers (auth-header-field, auth-remove-header): after authentication, tell the backend who
the user is, and/or keep the client's credentials from it."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_access import AuthHeadersSpec


class AuthHeaders:
    __slots__ = ("remove_authorization", "user_header")

    name = AuthHeadersSpec.name

    def __init__(self, spec: AuthHeadersSpec) -> None:
        self.user_header = spec.user_header
        self.remove_authorization = spec.remove_authorization

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        if self.user_header:
            user = exchange.outcome.user
            if user:
                exchange.set_upstream_header(self.user_header, user)
            else:  # never the client's own claim of who it is
                exchange.remove_upstream_header(self.user_header)
        if self.remove_authorization:
            exchange.remove_upstream_header("Authorization")
        return None
