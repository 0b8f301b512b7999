"""The watch loop: file changes become new routes; errors keep the last good ones; load sees no failure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from ingressctl.model import Snapshot
from ingressctl.model.config import StaticConfig
from ingressctl.providers.base import ProviderUpdate
from ingressctl.routing import RoutingTable
from ingressctl.server import RuntimeState, Server, Watcher
from ingressctl.server.reload import Listener
from tests.support.manifests import write_apps, write_atomically

from .conftest import url

pytestmark = pytest.mark.timeout(60)

ServerFactory = Callable[..., Awaitable[Server]]
BackendFactory = Callable[..., Awaitable[int]]


async def get(session: aiohttp.ClientSession, server: Server, host: str, path: str = "/") -> tuple[int, str]:
    async with session.get(url(server, path), headers={"Host": host}) as r:
        return r.status, await r.text()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_file_change_adds_route_and_logs_one_summary(
    tmp_path: Path,
    running_server: ServerFactory,
    echo_backend: BackendFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "ingressctl.server")
    a, b = await echo_backend("a"), await echo_backend("b")
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("a", "a.test", "/", a)])
    server = await running_server(manifests)
    async with aiohttp.ClientSession() as s:
        assert await get(s, server, "a.test") == (200, "a /")
        assert (await get(s, server, "b.test"))[0] == 404
        write_apps(manifests, [("a", "a.test", "/", a), ("b", "b.test", "/", b)])

        async def b_served() -> bool:
            return (await get(s, server, "b.test"))[0] == 200

        await eventually(b_served)

    async def logged() -> bool:  # the summary is logged after the swap, computed off the loop
        return "configuration applied: routes 2 (+1 -0 ~0); added: default/b" in caplog.text

    await eventually(logged)
    assert server.state.last_reload() is not None


async def test_broken_edit_keeps_last_good_routes(
    tmp_path: Path,
    running_server: ServerFactory,
    echo_backend: BackendFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    a = await echo_backend("a")
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("a", "a.test", "/", a)])
    server = await running_server(manifests)
    assert server.watcher is not None
    applied = server.watcher.applied_count
    write_atomically(manifests, "apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n")

    def unhealthy() -> bool:
        statuses = server.state.provider_statuses()
        return bool(statuses) and not statuses[0].healthy

    async def check() -> bool:
        return unhealthy()

    await eventually(check)
    async with aiohttp.ClientSession() as s:
        assert await get(s, server, "a.test") == (200, "a /")
    assert server.watcher.applied_count == applied
    assert "keeping the last good configuration" in caplog.text
    # Fixing the file recovers.
    write_apps(manifests, [("a", "a.test", "/fixed", a)])

    async def fixed() -> bool:
        async with aiohttp.ClientSession() as s:
            return (await get(s, server, "a.test", "/"))[0] == 404

    await eventually(fixed)
    assert not unhealthy()


async def test_compile_failure_keeps_working_table(caplog: pytest.LogCaptureFixture) -> None:
    state = RuntimeState(StaticConfig())
    good = RoutingTable([])
    calls: list[Snapshot] = []

    def compile_fn(snapshot: Snapshot) -> tuple[RoutingTable, list]:  # type: ignore[type-arg]
        calls.append(snapshot)
        if len(calls) > 1:
            raise RuntimeError("compiler bug")
        return good, []

    applied: list[object] = []
    watcher = Watcher(
        state, compile_fn, [Listener("test", lambda config: applied.append(config.table))], throttle=0.01
    )
    task = asyncio.ensure_future(watcher.run())
    try:
        watcher.publish(ProviderUpdate("manifests", Snapshot()))
        await watcher.wait_applied(1, 5)
        watcher.publish(
            ProviderUpdate("manifests", Snapshot(ingresses=()), diagnostics=())
        )  # unchanged: dropped
        watcher.request_reload()
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
    assert len(calls) == 2
    assert applied == [good]
    assert state.table() is good
    assert "compiler bug" in (state.last_error() or "")


async def test_bursts_coalesce_into_one_compile() -> None:
    state = RuntimeState(StaticConfig())
    compiled: list[Snapshot] = []

    def compile_fn(snapshot: Snapshot) -> tuple[RoutingTable, list]:  # type: ignore[type-arg]
        compiled.append(snapshot)
        return RoutingTable([]), []

    # The quiet period, and the settle of an idle loop's first update, are far longer than the 2 ms
    # gaps: a loaded CI machine that stalls this test between two updates must not split the burst
    # (with the default 5 ms settle, a stall after the first update applied it alone).
    watcher = Watcher(state, compile_fn, [], throttle=1.0, settle=1.0, max_delay=30.0)
    task = asyncio.ensure_future(watcher.run())
    try:
        from ingressctl.model import IngressClass, ObjectMeta

        for i in range(50):
            classes = (IngressClass(ObjectMeta(name=f"c{i}")),)
            watcher.publish(ProviderUpdate("manifests", Snapshot(ingress_classes=classes)))
            await asyncio.sleep(0.002)
        await watcher.wait_applied(1, 15)
        await asyncio.sleep(0.7)
    finally:
        task.cancel()
    assert len(compiled) == 1
    assert compiled[0].ingress_classes[0].meta.name == "c49"  # the newest update won


async def test_lone_update_is_applied_without_the_quiet_period() -> None:
    state = RuntimeState(StaticConfig())
    compiled: list[Snapshot] = []

    def compile_fn(snapshot: Snapshot) -> tuple[RoutingTable, list]:  # type: ignore[type-arg]
        compiled.append(snapshot)
        return RoutingTable([]), []

    # A quiet period of 60 s: only the idle fast path can apply within the 20 s deadline below
    # (scales far apart, so a slow machine cannot blur them).
    watcher = Watcher(state, compile_fn, [], throttle=60.0, max_delay=60.0)
    task = asyncio.ensure_future(watcher.run())
    try:
        from ingressctl.model import IngressClass, ObjectMeta

        watcher.publish(
            ProviderUpdate("manifests", Snapshot(ingress_classes=(IngressClass(ObjectMeta("a")),)))
        )
        await watcher.wait_applied(1, 20)
        # Right after an apply the loop is not idle: the next update waits for the quiet period,
        # so a steady stream of changes cannot keep the compiler busy back to back.
        watcher.publish(
            ProviderUpdate("manifests", Snapshot(ingress_classes=(IngressClass(ObjectMeta("b")),)))
        )
        await asyncio.sleep(0.5)
        assert len(compiled) == 1
    finally:
        task.cancel()
    assert [s.ingress_classes[0].meta.name for s in compiled] == ["a"]


async def test_in_flight_request_finishes_on_its_table(
    tmp_path: Path, running_server: ServerFactory, echo_backend: BackendFactory
) -> None:
    a = await echo_backend("a", delay_path="/slow", delay=1.0)
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("a", "a.test", "/", a)])
    server = await running_server(manifests)
    assert server.watcher is not None
    async with aiohttp.ClientSession() as s:
        slow = asyncio.ensure_future(get(s, server, "a.test", "/slow"))
        await asyncio.sleep(0.2)
        write_apps(manifests, [("a", "other.test", "/", a)])  # the route disappears mid-request
        await server.watcher.wait_applied(2, 5)
        assert (await get(s, server, "a.test"))[0] == 404
        assert await slow == (200, "a /slow")


async def test_hot_reconfiguration_under_load_has_no_failures(
    tmp_path: Path, running_server: ServerFactory, echo_backend: BackendFactory
) -> None:
    stable, other = await echo_backend("stable"), await echo_backend("other")
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("stable", "stable.test", "/", stable)])
    server = await running_server(manifests)
    assert server.watcher is not None
    results: dict[int, int] = {}
    stop = asyncio.Event()

    async def client(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            async with session.get(url(server, "/x"), headers={"Host": "stable.test"}) as r:
                await r.read()
                results[r.status] = results.get(r.status, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as s:
        clients = [asyncio.ensure_future(client(s)) for _ in range(8)]
        before = server.watcher.applied_count
        for i in range(100):
            apps = [("stable", "stable.test", "/", stable), (f"app{i}", f"app{i}.test", f"/p{i}", other)]
            write_apps(manifests, apps)
            # Wait for this change to be applied before the next one, so all 100 are real reloads.
            await server.watcher.wait_applied(before + i + 1, 10)
        stop.set()
        await asyncio.gather(*clients)
    assert server.watcher.applied_count - before == 100
    assert set(results) == {200}, results
    assert results[200] > 100
