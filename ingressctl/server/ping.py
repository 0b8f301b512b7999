"""A minimal API entrypoint (`/ping`, `/ready`) for builds without ingressctl.api."""

from __future__ import annotations

from aiohttp import web

from ingressctl.server.listeners import open_listener
from ingressctl.server.state import RuntimeState


async def start_ping_api(state: RuntimeState, address: str) -> web.AppRunner:
    """Listen on `address` answering /ping (alive) and /ready (configuration applied). Caller cleans up."""

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def ready(request: web.Request) -> web.Response:
        ok = state.ready()
        return web.Response(status=200 if ok else 503, text="OK" if ok else "not ready")

    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_get("/ready", ready)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.SockSite(runner, open_listener(address))  # ":PORT" dual stack, as entrypoints
    await site.start()
    return runner
