"""A real backend on loopback that answers with the forwarding headers it received (JSON)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

FORWARDING = ("X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto")


@contextlib.asynccontextmanager
async def echo_backend() -> AsyncIterator[int]:
    """Yields the port of a backend on 127.0.0.1 answering {header: value} for FORWARDING."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({n: request.headers.get(n, "") for n in FORWARDING})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
