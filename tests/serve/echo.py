"""A real backend on loopback that answers with the forwarding headers it received (JSON)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from tests.support.backends import loopback_backend

FORWARDING = ("X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto")


@contextlib.asynccontextmanager
async def echo_backend() -> AsyncIterator[int]:
    """Yields the port of a backend on 127.0.0.1 answering {header: value} for FORWARDING."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({n: request.headers.get(n, "") for n in FORWARDING})

    async with loopback_backend(handler) as port:
        yield port
