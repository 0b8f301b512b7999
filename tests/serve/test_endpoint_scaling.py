"""Endpoints scale 1 → 3 → 1 under constant load: no request fails while one endpoint is ready.

Three real backends listen on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with the same port, as Pods of one
Deployment would. A backend is stopped only after serve has applied its removal (Kubernetes' graceful
termination: the endpoint leaves the EndpointSlice first, the Pod gets SIGTERM afterwards).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, service

from .backends import Backend, Load
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(120)

ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


def slice_of(port: int, endpoints: list[tuple[str, dict[str, bool]]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [a], "conditions": c} for a, c in endpoints],
    }


READY = {"ready": True, "serving": True, "terminating": False}
TERMINATING = {"ready": False, "serving": True, "terminating": True}
NOT_READY = {"ready": False, "serving": False, "terminating": False}


async def applied_after(sp: ServeProcess, mark: int) -> None:
    await asyncio.to_thread(sp.wait_for, r"configuration applied", 30.0, mark)


async def serves_exactly(load: Load, want: set[str], timeout: float = 30.0) -> dict[str, int]:
    """Wait until a window of traffic reaches exactly the backends `want`; returns that window."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    load.seen()
    while True:
        await asyncio.sleep(0.4)
        window = load.seen()
        if set(window) == want and sum(window.values()) >= 20:
            return window
        assert loop.time() < deadline, f"wanted traffic on {want}, last window {window}"


async def test_scale_up_and_down_under_load(
    kube_api: KubeAPIServer, serve: Callable[..., ServeProcess]
) -> None:
    first = await Backend(ADDRESSES[0]).start()
    backends = [first] + [await Backend(a, first.port).start() for a in ADDRESSES[1:]]
    port = first.port
    try:
        kube_api.apply_many(
            [
                service("web", "shop"),
                slice_of(port, [(ADDRESSES[0], READY)]),
                ingress("web", "shop", host="web.test", service_name="web"),
            ]
        )
        kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
        sp = serve("--kubernetes", "--kubeconfig", str(kubeconfig), "--entrypoint", "web=127.0.0.1:0")
        await asyncio.to_thread(sp.wait_ready)
        async with Load(sp.url("/"), "web.test", workers=6) as load:
            await serves_exactly(load, {ADDRESSES[0]})

            # 1 → 3
            kube_api.apply(slice_of(port, [(a, READY) for a in ADDRESSES]))
            window = await serves_exactly(load, set(ADDRESSES))
            assert min(window.values()) > sum(window.values()) / 6  # round robin spreads the load

            # One goes not ready (readiness probe failing): out of rotation, while still running.
            mark = len(sp.lines)
            kube_api.apply(
                slice_of(port, [(ADDRESSES[0], READY), (ADDRESSES[1], READY), (ADDRESSES[2], NOT_READY)])
            )
            await applied_after(sp, mark)
            await serves_exactly(load, set(ADDRESSES[:2]))

            # Scale down: .2 terminates (leaves rotation: another endpoint is ready), .3 is gone.
            mark = len(sp.lines)
            kube_api.apply(slice_of(port, [(ADDRESSES[0], READY), (ADDRESSES[1], TERMINATING)]))
            await applied_after(sp, mark)
            await serves_exactly(load, {ADDRESSES[0]})
            await backends[2].stop()
            await backends[1].stop()  # SIGTERM after the removal was applied
            mark = len(sp.lines)
            kube_api.apply(slice_of(port, [(ADDRESSES[0], READY)]))
            await serves_exactly(load, {ADDRESSES[0]})
            await asyncio.sleep(0.5)
        assert load.failures == [], load.failures[:5]
        assert load.ok > 200
    finally:
        for b in backends:
            await b.stop()
