"""The probe listener: `/ping` (alive) and `/ready` (configuration applied), unauthenticated, nothing else.

It serves `--ping-address` / `[ping] address` so that kubelet probes need neither the API's port nor
its credentials; builds without ingressctl.api also use it in place of the API. The answers are
those of the API's /ping and /ready (both read RuntimeState.ready()).
"""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from ingressctl.model import ConfigError
from ingressctl.server.listeners import open_listener
from ingressctl.server.run import ApiStarter, Closer
from ingressctl.server.state import RuntimeState

log = logging.getLogger("ingressctl.server")

NOT_READY = "not ready: no configuration applied yet"


def build_ping_app(state: RuntimeState) -> web.Application:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def ready(request: web.Request) -> web.Response:
        if state.ready():
            return web.Response(text="OK")
        return web.Response(status=503, text=NOT_READY)

    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_get("/ready", ready)
    return app


async def start_ping_api(state: RuntimeState, address: str, what: str = "ping") -> web.AppRunner:
    """Listen on `address` answering /ping and /ready. The caller owns runner.cleanup()."""
    runner = web.AppRunner(build_ping_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        # ":PORT" dual stack, as entrypoints
        await web.SockSite(runner, open_listener(address)).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            f"cannot listen on the {what} address {address!r}: {exc.strerror or exc}; choose another "
            "port (--ping-address, [ping] address)"
        ) from None
    bound = ", ".join(f"{a[0]}:{a[1]}" if ":" not in a[0] else f"[{a[0]}]:{a[1]}" for a in runner.addresses)
    log.info("ping and ready on %s (/ping, /ready)", bound, extra={"address": address})
    return runner


class _Both:
    def __init__(self, first: Closer, second: Closer | None) -> None:
        self._closers = (first, second)

    async def cleanup(self) -> None:
        for closer in self._closers:
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.cleanup()


def with_ping_listener(start_api: ApiStarter | None, address: str) -> ApiStarter | None:
    """`start_api`, plus the probe listener on `address` (started first, closed with the API)."""
    if not address:
        return start_api

    async def start(state: RuntimeState) -> Closer | None:
        ping = await start_ping_api(state, address)
        try:
            api = await start_api(state) if start_api is not None else None
        except BaseException:
            await ping.cleanup()
            raise
        return _Both(ping, api)

    return start
