""" ":PORT" listens on IPv6 and IPv4, "[::]:PORT" too (as Go), "0.0.0.0:PORT" on IPv4 only: real
clients on 127.0.0.1 and ::1, and the address the backend is told (IPv4 clients as IPv4)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from ingressctl.api.app import start_api
from ingressctl.api.metrics import Metrics
from ingressctl.model.config import ApiConfig, EntryPointAuth, StaticConfig
from ingressctl.server import RuntimeState
from tests.support.manifests import app_manifest, write_atomically

from .conftest import ServeProcess
from .echo import echo_backend

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not socket.has_ipv6, reason="this Python has no IPv6"),
]


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    async with echo_backend() as port:
        yield port


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


async def _forwarded_for(url: str) -> str:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.get(url, headers={"Host": "app.test"}) as response,
    ):
        assert response.status == 200
        return str((await response.json())["X-Forwarded-For"])


async def test_port_only_and_ipv6_wildcard_serve_ipv4_and_ipv6_clients(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_atomically(manifests, app_manifest("app", "app.test", "/", echo))
    sp = serve(
        "--manifests",
        str(manifests),
        "--entrypoint",
        "web=:0",
        "--entrypoint",
        "six=[::]:0",
        "--entrypoint",
        "four=0.0.0.0:0",
    )
    await asyncio.to_thread(sp.wait_ready)
    assert sp.addresses["web"].startswith("[::]:") and sp.addresses["six"].startswith("[::]:")
    assert sp.addresses["four"].startswith("0.0.0.0:")
    for name in ("web", "six"):
        port = _port(sp.addresses[name])
        # An IPv4 client is told to the backend as IPv4, not as "::ffff:127.0.0.1".
        assert await _forwarded_for(f"http://127.0.0.1:{port}/") == "127.0.0.1"
        assert await _forwarded_for(f"http://[::1]:{port}/") == "::1"
    four = _port(sp.addresses["four"])
    assert await _forwarded_for(f"http://127.0.0.1:{four}/") == "127.0.0.1"
    with pytest.raises(aiohttp.ClientConnectionError):
        await _forwarded_for(f"http://[::1]:{four}/")


async def test_api_port_only_address_answers_on_ipv4_and_ipv6() -> None:
    state = RuntimeState(StaticConfig())
    auth = EntryPointAuth(users=(("ops", "$apr1$x$y"),))
    runner = await start_api(state, Metrics(), ApiConfig(address=":0", auth=auth))
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            for host in ("127.0.0.1", "[::1]"):
                async with session.get(f"http://{host}:{port}/ping") as response:
                    assert response.status == 200, host
    finally:
        await runner.cleanup()
