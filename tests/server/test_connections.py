"""The server tells the observer (metrics) when client connections open and close."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ingressctl.model.config import EntryPoint, StaticConfig
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from tests.support.manifests import write_apps
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(30)


class Counter:
    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def on_request(self, *args: object) -> None: ...

    def on_upstream_error(self, *args: object) -> None: ...

    def on_retry(self, *args: object) -> None: ...

    def on_connection_open(self, entrypoint: str) -> None:
        self.open[entrypoint] = self.open.get(entrypoint, 0) + 1

    def on_connection_close(self, entrypoint: str) -> None:
        self.open[entrypoint] -= 1


async def test_open_connections_counted(tmp_path: Path, echo_backend: Callable[..., Awaitable[int]]) -> None:
    port = await echo_backend("a")
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("a", "a.test", "/", port)])
    counter = Counter()
    static = StaticConfig(entrypoints=(EntryPoint("web", "127.0.0.1:0"),), manifests=(str(manifests),))
    server = Server(static, ServerParts(providers=[ManifestsProvider([str(manifests)])], observer=counter))
    await server.start()
    try:
        host, _, p = server.state.bound["web"].rpartition(":")
        conns = [await asyncio.open_connection(host, int(p)) for _ in range(3)]
        await eventually(lambda: counter.open == {"web": 3}, "three connections counted")
        for _, writer in conns:
            writer.close()
        await eventually(lambda: counter.open == {"web": 0}, "closed connections uncounted")
    finally:
        await server.stop()
