"""A failing endpoint is ejected for a time that doubles with each consecutive failure (1 s, 2 s, 4 s ...,
capped at eject_max_seconds) and is forgiven by one success. Measured with the pool's clock, which the
test moves: no waiting, and a constant ejection time fails."""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest

from ingressctl.proxy import ProxyOptions
from ingressctl.proxy.pool import UpstreamPool
from tests.support.ports import free_port

from .conftest import BackendFactory, ProxyFactory, route


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_pool_ejection_doubles_up_to_the_cap_and_resets_on_success() -> None:
    clock = Clock()
    pool = UpstreamPool(ProxyOptions(eject_base_seconds=1.0, eject_max_seconds=30.0), clock=clock)
    key = ("127.0.0.1", 9)
    assert not pool.is_ejected(key)
    durations = []
    for _ in range(8):
        durations.append(pool.record_failure(key))
        assert pool.is_ejected(key)
        assert pool.eject_remaining(key) == durations[-1]
        clock.now += durations[-1] - 0.001
        assert pool.is_ejected(key)  # not a moment early
        clock.now += 0.001
        assert not pool.is_ejected(key) and pool.eject_remaining(key) == 0.0
    assert durations == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    pool.record_success(key)
    assert pool.record_failure(key) == 1.0  # a success starts the count again
    pool.close()


async def test_a_dead_endpoint_behind_the_proxy_is_ejected_for_growing_times(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    good = await backend("good")
    dead = ("127.0.0.1", free_port())
    options = ProxyOptions(eject_base_seconds=1.0, eject_max_seconds=8.0)
    p = await proxy_server([route("r", [dead, good.addr])], options=options)
    clock = Clock()
    # The proxy creates its pool on first use; this one measures ejection with the test's clock.
    p.proxy._pool = UpstreamPool(options, clock=clock)
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    pattern = re.compile(rf"upstream 127\.0\.0\.1:{dead[1]} failed .*; ejected for ([\d.]+)s")

    def ejections() -> list[float]:
        return [float(m.group(1)) for m in pattern.finditer(caplog.text)]

    async with aiohttp.ClientSession() as session:
        for expected in ([1.0], [1.0, 2.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0, 8.0]):
            # While ejected, every request goes to the good endpoint and the dead one is not tried.
            for _ in range(4):
                async with session.get(p.url("/")) as resp:
                    assert resp.status == 200 and resp.headers["X-Backend"] == "good"
            assert ejections() == expected
            clock.now += expected[-1]  # the ejection ends: the next requests try the dead endpoint again
    p.proxy.pool.close()
