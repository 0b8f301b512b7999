"""The ProxyObserver hook sees every routed request, upstream failure and retry (metrics plug in here)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from ingressctl.proxy import ProxyOptions
from tests.support.ports import free_port

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, int]] = []
        self.errors: list[tuple[str, str, str]] = []
        self.retries: list[tuple[str, str]] = []

    def on_request(
        self,
        entrypoint: str,
        route_id: str,
        service: str,
        status: int,
        seconds: float,
        protocol: str = "http/1.1",
    ) -> None:
        assert seconds >= 0 and protocol == "http/1.1"
        self.requests.append((entrypoint, route_id, service, status))

    def on_upstream_error(
        self, entrypoint: str, route_id: str, service: str, upstream: str, kind: str
    ) -> None:
        self.errors.append((route_id, upstream, kind))

    def on_retry(self, entrypoint: str, route_id: str, service: str, upstream: str) -> None:
        self.retries.append((route_id, upstream))


async def test_observer_sees_requests_errors_and_retries(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    good = await backend()
    dead = ("127.0.0.1", free_port())
    rec = Recorder()
    p = await proxy_server(
        [
            route("ok", [good.addr], host="ok.test"),
            route("retry", [dead, good.addr], host="retry.test"),
            route("down", [dead], host="down.test"),
        ],
        observer=rec,
    )
    async with aiohttp.ClientSession() as s:
        for host in ("ok.test", "retry.test", "down.test", "none.test"):
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                await r.read()
    assert rec.requests == [
        ("web", "ok", "default/ok:80", 200),
        ("web", "retry", "default/retry:80", 200),
        ("web", "down", "default/down:80", 502),
    ]
    dead_label = f"127.0.0.1:{dead[1]}"
    assert ("retry", dead_label, "connect") in rec.errors
    assert ("down", dead_label, "connect") in rec.errors
    assert rec.retries == [("retry", dead_label)]


async def test_stale_pooled_connection_is_replaced_transparently(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """A backend that closes idle keep-alive connections quickly: the next request still succeeds."""
    runner_holder: list[web.AppRunner] = []

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="fresh")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=0.05)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    runner_holder.append(runner)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    p = await proxy_server([route("r", [("127.0.0.1", port)])], options=ProxyOptions())
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(5):
                async with s.get(p.url("/")) as r:
                    assert r.status == 200 and await r.text() == "fresh"
                await asyncio.sleep(0.1)  # longer than the backend's keep-alive: it closes the pooled conn
    finally:
        await runner.cleanup()
