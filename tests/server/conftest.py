"""A real Server (manifests provider, watch loop, entrypoints on port 0) and loopback backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ingressctl.model.config import EntryPoint, StaticConfig
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from tests.pebble import challtestsrv, pebble, pebble_workdir  # noqa: F401  (session fixtures)


@pytest.fixture
async def echo_backend() -> AsyncIterator[Callable[..., Awaitable[int]]]:
    runners: list[web.AppRunner] = []

    async def start(name: str, delay_path: str = "/slow", delay: float = 1.0) -> int:
        import asyncio

        async def handler(request: web.Request) -> web.Response:
            if request.path == delay_path:
                await asyncio.sleep(delay)
            return web.Response(text=f"{name} {request.path}", headers={"X-Backend": name})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def running_server() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(manifests: Path, **static_kwargs: Any) -> Server:
        static = StaticConfig(
            entrypoints=(EntryPoint("web", "127.0.0.1:0"),),
            manifests=(str(manifests),),
            throttle_seconds=static_kwargs.pop("throttle_seconds", 0.02),
            grace_period_seconds=static_kwargs.pop("grace_period_seconds", 5.0),
            **static_kwargs,
        )
        server = Server(static, ServerParts(providers=[ManifestsProvider([str(manifests)], interval=0.05)]))
        await server.start()
        servers.append(server)
        assert server.watcher is not None
        await server.watcher.wait_applied(1, timeout=10)
        return server

    yield start
    for server in servers:
        await server.stop()


def url(server: Server, path: str = "/") -> str:
    return f"http://{server.state.bound['web']}{path}"
