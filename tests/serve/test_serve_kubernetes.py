"""`ingressctl serve --kubeconfig`: routes come from the cluster (the test API server) and follow changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.kubeapi import KubeAPIServer
from tests.server.manifests import app_manifest

from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


@pytest.fixture
async def backend_port() -> AsyncIterator[int]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"cluster {request.headers['Host']}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await runner.cleanup()


def apply(server: KubeAPIServer, host: str, port: int) -> None:
    server.apply_many([doc for doc in yaml.safe_load_all(app_manifest("app", host, "/", port)) if doc])


async def status_for(sp: ServeProcess, host: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(sp.url("/"), headers={"Host": host}) as r:
        return r.status, await r.text()


async def test_serve_follows_the_cluster(
    tmp_path: Path, kube_api: KubeAPIServer, backend_port: int, serve: Callable[..., ServeProcess]
) -> None:
    apply(kube_api, "one.test", backend_port)
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve("--kubeconfig", str(kubeconfig), "--entrypoint", "web=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)
    assert await status_for(sp, "one.test") == (200, "cluster one.test")
    apply(kube_api, "two.test", backend_port)  # the Ingress now names another host
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await status_for(sp, "two.test"))[0] != 200:
        assert loop.time() < deadline, sp.text
        await asyncio.sleep(0.05)
    assert (await status_for(sp, "one.test"))[0] == 404
    assert await asyncio.to_thread(sp.stop) == 0
