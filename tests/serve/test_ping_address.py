"""`serve --ping-address`: /ping and /ready without credentials, and nothing else, apart from the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest

from tests.kubeapi import ADMIN_USER, KubeAPIServer, rule
from tests.kubeapi.fixtures import ingress_app

from .backends import Backend
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(90)


async def status(url: str, auth: aiohttp.BasicAuth | None = None) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url, auth=auth) as response,
    ):
        return response.status


async def test_ready_follows_the_first_configuration_and_nothing_else_is_served(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "app", backend.port)
    # Listing Ingresses is refused at first: no configuration can be applied, so never ready.
    kube_api.set_rules(
        [rule(ADMIN_USER, ["list", "watch", "get"], ["services", "endpointslices", "secrets"])]
    )
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--ping-address",
        "127.0.0.1:0",
        "--api-address",
        "127.0.0.1:0",
        "--no-leader-election",
    )
    ping = "http://" + (await asyncio.to_thread(sp.wait_for, r"ping and ready on (\S+)")).group(1)
    api = (await asyncio.to_thread(sp.wait_for, r"API and dashboard on (\S+)/")).group(1)
    assert await status(f"{ping}/ping") == 200
    assert await status(f"{ping}/ready") == 503
    for path in ("/api/overview", "/metrics", "/dashboard/", "/"):
        assert await status(f"{ping}{path}") == 404, path
    assert await status(f"{api}/api/overview") == 200  # the API is still there, on its own address
    kube_api.set_rules(None)
    deadline = asyncio.get_running_loop().time() + 60
    while await status(f"{ping}/ready") != 200:
        assert asyncio.get_running_loop().time() < deadline, sp.text
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(sp.stop) == 0


async def test_a_taken_ping_port_is_a_clear_exit_2(
    kube_api: KubeAPIServer, serve: Callable[..., ServeProcess], backend: Backend
) -> None:
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--ping-address",
        f"127.0.0.1:{backend.port}",
    )
    assert await asyncio.to_thread(sp.proc.wait, 60) == 2
    await asyncio.to_thread(sp.wait_for, rf"cannot listen on the ping address '127.0.0.1:{backend.port}'")
