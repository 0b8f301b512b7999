"""HTTP basic authentication for the API entrypoint."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ingressctl.model.config import EntryPointAuth
from ingressctl.security.htpasswd import is_slow, parse_basic_authorization, verify

# Probes must work without credentials (kubelet and load balancers do not send them).
OPEN_PATHS = frozenset({"/ping", "/ready"})


class BasicAuthGate:
    """Checks `Authorization: Basic` against htpasswd users.

    bcrypt takes tens of milliseconds by design: such checks run in a worker thread so the
    event loop (and the proxy sharing it) never waits; ingressctl.security remembers successes,
    so the dashboard's polling does not pay that price every 2 s.
    """

    def __init__(self, auth: EntryPointAuth) -> None:
        self._auth = auth

    def _challenge(self) -> web.HTTPUnauthorized:
        realm = self._auth.realm.replace('"', "").replace("\\", "")
        return web.HTTPUnauthorized(
            text="401: authentication required\n",
            headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
        )

    async def check(self, request: web.Request) -> None:
        credentials = parse_basic_authorization(request.headers.get("Authorization", ""))
        if credentials is None:
            raise self._challenge()
        user, password = credentials
        users = self._auth.users
        if is_slow(users, user, password):
            ok = await asyncio.to_thread(verify, users, user, password)
        else:
            ok = verify(users, user, password)
        if not ok:
            raise self._challenge()


def auth_middleware(gate: BasicAuthGate) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in OPEN_PATHS:
            await gate.check(request)
        return await handler(request)

    return middleware
