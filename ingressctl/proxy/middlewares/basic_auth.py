"""basic-auth (a route's auth Secret, or an entrypoint's users): 401 with a challenge until a user
and password match; verification through ingressctl.security (cached; slow hashes off the loop).

A keep-alive client sends the very same Authorization header with every request. Once a header has
verified, the header itself (the exact string) names its user here, so the next request with it
skips decoding, the table scan and the password hash altogether: one dict look-up, which compares
the whole string (never only its hash) before it answers. A digest of the header as the key (kept
until 2026-12-07) cost a keyed BLAKE2b per request, about a third of what the middleware chain of
the benchmark added to a request. The process holds every header it serves in memory anyway; what
is kept here is bounded (VERIFIED_KEPT per authenticator, oldest out first) and lives only as long
as the authenticator's user table: a changed Secret builds a new one, with nothing remembered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import SUSPEND, Exchange, Suspend
from ingressctl.routing.chain import BasicAuthSpec
from ingressctl.security import htpasswd

# Verified headers remembered per authenticator (about 150 bytes each); the oldest goes first.
VERIFIED_KEPT: Final = 1024


class Authenticator:
    __slots__ = ("_verified", "challenge", "realm", "source", "users")

    name = BasicAuthSpec.name

    def __init__(self, users: Sequence[tuple[str, str]], realm: str, source: str) -> None:
        self.users = tuple(users)
        self.realm = realm or "ingressctl"
        self.source = source
        escaped = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{escaped}"'
        # a verified Authorization value -> its user (insertion order: oldest first)
        self._verified: dict[str, str] = {}

    @classmethod
    def from_spec(cls, spec: BasicAuthSpec) -> Authenticator:
        return cls(spec.users, spec.realm, spec.source)

    @property
    def remembered(self) -> int:
        """How many verified Authorization headers are remembered."""
        return len(self._verified)

    def credentials(self, header: str | None) -> tuple[str, str] | None:
        if not header:
            return None
        return htpasswd.parse_basic_authorization(header)

    def is_slow(self, user: str, password: str) -> bool:
        return htpasswd.is_slow(self.users, user, password)

    def verify(self, user: str, password: str) -> bool:
        return bool(self.users) and htpasswd.verify(self.users, user, password)

    def check(self, exchange: Exchange) -> StreamResponse | Suspend | None:
        """A remembered header or none: decided here; anything else is for `handle`."""
        header = exchange.request.headers.get("Authorization")
        if not header:
            return error(401, "Unauthorized", {"WWW-Authenticate": self.challenge})
        known = self._verified.get(header)
        if known is None:
            return SUSPEND
        exchange.outcome.user = known
        return None

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        header = exchange.request.headers.get("Authorization")
        if header:
            known = self._verified.get(header)
            if known is not None:
                exchange.outcome.user = known
                return None
            creds = htpasswd.parse_basic_authorization(header)
            if creds is not None:
                user, password = creds
                if self.is_slow(user, password):
                    ok = await asyncio.to_thread(self.verify, user, password)
                else:
                    ok = self.verify(user, password)
                if ok:
                    self._remember(header, user)
                    exchange.outcome.user = user
                    return None
        return error(401, "Unauthorized", {"WWW-Authenticate": self.challenge})

    def _remember(self, header: str, user: str) -> None:
        verified = self._verified
        if len(verified) >= VERIFIED_KEPT:
            del verified[next(iter(verified))]
        verified[header] = user
