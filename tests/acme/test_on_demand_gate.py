"""The on-demand TLS gate under a flood of random SNI names: real TLS handshakes reach a real
CertificateStore whose misses go to the CertificateManager, which asks a real `ask` endpoint on
loopback. The endpoint counts its calls and how many run at once; the gate's memory is measured.

No CA is needed: the ask endpoint refuses every name, so nothing is ever ordered."""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from ingressctl.acme.gate import OnDemandGate
from ingressctl.acme.manager import CertificateManager
from ingressctl.model.config import AcmeConfig
from ingressctl.tls.store import CertificateStore

pytestmark = pytest.mark.timeout(60)

# What is served does not matter here, only that the handshake asks for the name.
CLIENT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT.check_hostname = False
CLIENT.verify_mode = ssl.CERT_NONE


class Clock:
    """The gate's clock: frozen unless a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class AskEndpoint:
    """`GET /ask?domain=NAME` that answers 403 after `delay` seconds, counting calls and concurrency."""

    delay: float = 0.05
    calls: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    url: str = ""
    runner: web.ServerRunner | None = None

    async def handle(self, request: web.BaseRequest) -> web.Response:
        self.calls.append(request.query["domain"])
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return web.Response(status=403)

    async def start(self) -> None:
        self.runner = web.ServerRunner(web.Server(self.handle), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/ask"


@dataclass
class Lab:
    ask: AskEndpoint
    manager: CertificateManager
    gate: OnDemandGate
    clock: Clock
    port: int

    async def handshake(self, name: str) -> None:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, ssl=CLIENT, server_hostname=name), 10
        )
        writer.close()
        await writer.wait_closed()

    async def flood(self, count: int, parallel: int = 16) -> list[str]:
        names = [f"{secrets.token_hex(6)}.flood.test" for _ in range(count)]
        limit = asyncio.Semaphore(parallel)

        async def one(name: str) -> None:
            async with limit:
                await self.handshake(name)

        await asyncio.gather(*(one(n) for n in names))
        return names

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until no ask is pending (in the gate and at the endpoint)."""
        deadline = time.monotonic() + timeout
        while self.gate.asks_in_flight or self.ask.in_flight:
            assert time.monotonic() < deadline, "asks still in flight"
            await asyncio.sleep(0.02)


async def _lab(tmp_path: Path, gate_options: dict[str, float]) -> AsyncIterator[Lab]:
    ask = AskEndpoint()
    await ask.start()
    clock = Clock()
    gate = OnDemandGate(clock=clock, **gate_options)  # type: ignore[arg-type]
    config = AcmeConfig(
        email="ops@example.test",
        storage=str(tmp_path / "acme.json"),
        ca_server="https://127.0.0.1:9/directory",  # never contacted: the ask URL refuses every name
        on_demand=True,
        on_demand_ask=ask.url,
    )
    manager = CertificateManager(config, on_demand_gate=gate, clock=clock)
    store = CertificateStore()
    store.set_miss_listener(manager.request_on_demand)
    server = await asyncio.start_server(
        lambda r, w: w.close(), "127.0.0.1", 0, ssl=store.ssl_context_for_entrypoint()
    )
    await manager.start()
    try:
        yield Lab(ask, manager, gate, clock, server.sockets[0].getsockname()[1])
    finally:
        await manager.stop()
        server.close()
        await server.wait_closed()
        assert ask.runner is not None
        await ask.runner.cleanup()


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Lab]:
    async for lab in _lab(tmp_path, {"ask_rate": 1.0, "ask_burst": 8, "max_concurrent_asks": 2}):
        yield lab


@pytest.fixture
async def small_memory(tmp_path: Path) -> AsyncIterator[Lab]:
    options = {"ask_rate": 1000.0, "ask_burst": 1000, "max_concurrent_asks": 1000, "max_names": 32}
    async for lab in _lab(tmp_path, options):
        yield lab


async def test_ask_calls_are_rate_and_concurrency_limited_globally(limited: Lab) -> None:
    names = await limited.flood(200)
    await limited.settle()
    # The clock did not move: the burst is all there is, and never more than two at once.
    assert 1 <= len(limited.ask.calls) <= 8, len(limited.ask.calls)
    assert limited.ask.peak <= 2
    assert set(limited.ask.calls) <= set(names)
    # Only names that were asked are remembered; the others are asked at a later handshake.
    assert len(limited.gate) == len(limited.ask.calls)

    # Time passes: the bucket refills at 1/s, up to the burst.
    before = len(limited.ask.calls)
    limited.clock.now += 3.0
    await limited.flood(100)
    await limited.settle()
    assert 1 <= len(limited.ask.calls) - before <= 3
    assert limited.ask.peak <= 2

    # A name that was asked is not asked again within its cooldown, whatever the bucket holds.
    limited.clock.now += 60.0
    again = limited.ask.calls[0]
    for _ in range(5):
        await limited.handshake(again)
    await limited.settle()
    assert limited.ask.calls.count(again) == 1


async def test_the_gate_remembers_a_bounded_number_of_names(small_memory: Lab) -> None:
    await small_memory.flood(300)
    await small_memory.settle()
    assert len(small_memory.ask.calls) == 300  # generous limits: every name was asked ...
    assert len(small_memory.gate) == 32  # ... and only the 32 most recent are remembered


def test_gate_cooldown_cache_and_hourly_cap() -> None:
    clock = Clock()
    gate = OnDemandGate(clock=clock, cooldown=300, hourly_cap=2, ask_ttl=3600, ask_negative_ttl=300)
    assert gate.begin_ask("a.test") and gate.cooling_down("a.test")
    gate.end_ask("a.test", True)
    assert gate.cached_answer("a.test") is True
    clock.now += 301
    assert not gate.cooling_down("a.test") and gate.cached_answer("a.test") is True
    assert gate.begin_ask("b.test")
    gate.end_ask("b.test", False)
    clock.now += 301
    assert gate.cached_answer("b.test") is None  # a "no" is kept for 5 minutes only
    gate.accept("a.test")
    gate.accept("c.test")
    assert not gate.under_hourly_cap()
    clock.now += 3600
    assert gate.under_hourly_cap()
