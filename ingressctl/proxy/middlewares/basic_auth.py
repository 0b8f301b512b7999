"""basic-auth (a route's auth Secret, or an entrypoint's users): 401 with a challenge until a user
and password match; verification through ingressctl.security (cached; slow hashes off the loop).

A keep-alive client sends the very same Authorization header with every request. Once a header has
verified, a keyed digest of it (never the header itself: it carries the password) names its user
here, so the next request with it skips decoding, the table scan and the password hash altogether.
The digest key is random per authenticator, and an authenticator lives as long as its user table:
a changed Secret builds a new one, with nothing remembered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
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
    __slots__ = ("_keyed", "_verified", "challenge", "realm", "source", "users")

    name = BasicAuthSpec.name

    def __init__(self, users: Sequence[tuple[str, str]], realm: str, source: str) -> None:
        self.users = tuple(users)
        self.realm = realm or "ingressctl"
        self.source = source
        escaped = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{escaped}"'
        # Keyed once: copying a keyed hash costs half of keying a new one per request.
        self._keyed = hashlib.blake2b(key=os.urandom(32), digest_size=16)
        # digest of a verified Authorization value -> its user (insertion order: oldest first)
        self._verified: dict[bytes, str] = {}

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
        keyed = self._keyed.copy()
        keyed.update(header.encode("utf-8", "surrogatepass"))
        known = self._verified.get(keyed.digest())
        if known is None:
            return SUSPEND
        exchange.outcome.user = known
        return None

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        header = exchange.request.headers.get("Authorization")
        if header:
            digest = self._digest(header)
            known = self._verified.get(digest)
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
                    self._remember(digest, user)
                    exchange.outcome.user = user
                    return None
        return error(401, "Unauthorized", {"WWW-Authenticate": self.challenge})

    def _digest(self, header: str) -> bytes:
        # (Inlined in `check`.) surrogatepass: every str encodes, and distinct strings stay distinct.
        keyed = self._keyed.copy()
        keyed.update(header.encode("utf-8", "surrogatepass"))
        return keyed.digest()

    def _remember(self, digest: bytes, user: str) -> None:
        verified = self._verified
        if len(verified) >= VERIFIED_KEPT:
            del verified[next(iter(verified))]
        verified[digest] = user
