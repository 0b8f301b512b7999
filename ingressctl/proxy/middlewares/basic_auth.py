"""basic-auth (a route's auth Secret, or an entrypoint's users): 401 with a challenge until a user
and password match; verification through ingressctl.security (cached; slow hashes off the loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain import BasicAuthSpec
from ingressctl.security import htpasswd


class Authenticator:
    __slots__ = ("challenge", "realm", "source", "users")

    name = BasicAuthSpec.name

    def __init__(self, users: Sequence[tuple[str, str]], realm: str, source: str) -> None:
        self.users = tuple(users)
        self.realm = realm or "ingressctl"
        self.source = source
        escaped = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{escaped}"'

    @classmethod
    def from_spec(cls, spec: BasicAuthSpec) -> Authenticator:
        return cls(spec.users, spec.realm, spec.source)

    def credentials(self, header: str | None) -> tuple[str, str] | None:
        if not header:
            return None
        return htpasswd.parse_basic_authorization(header)

    def is_slow(self, user: str, password: str) -> bool:
        return htpasswd.is_slow(self.users, user, password)

    def verify(self, user: str, password: str) -> bool:
        return bool(self.users) and htpasswd.verify(self.users, user, password)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        creds = self.credentials(exchange.request.headers.get("Authorization"))
        if creds is not None:
            user, password = creds
            if self.is_slow(user, password):
                ok = await asyncio.to_thread(self.verify, user, password)
            else:
                ok = self.verify(user, password)
            if ok:
                exchange.outcome.user = user
                return None
        return error(401, "Unauthorized", {"WWW-Authenticate": self.challenge})
