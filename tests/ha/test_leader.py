"""Leader election between replicas: one leader writes status; SIGTERM hands over, SIGKILL waits the lease."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress_app, load_balancer
from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(120)

LEASE = 2  # seconds: renew deadline 1.3 s, retry period 0.27 s
WANT = [{"ip": "192.0.2.10"}]


def status_writers(server: KubeAPIServer) -> set[str]:
    return {r.user for r in server.request_log() if r.path.endswith("/status") and r.method == "PUT"}


def holder(server: KubeAPIServer) -> str:
    lease = server.get("Lease", "ingressctl", "ingressctl-leader") or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def start_replica(server: KubeAPIServer, serve: Callable[..., ServeProcess], name: str) -> ServeProcess:
    server.add_token(f"token-{name}", name)
    kubeconfig = server.write_kubeconfig(token=f"token-{name}", context=name)
    return serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--publish-address",
        "192.0.2.10",
        "--leader-election-lease-duration",
        str(LEASE),
        "--api-address",
        "127.0.0.1:0",
        env={"POD_NAME": name, "POD_NAMESPACE": "ingressctl"},
    )


async def get(sp: ServeProcess, host: str) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s,
        s.get(sp.url("/"), headers={"Host": host}) as r,
    ):
        return r.status


async def overview(sp: ServeProcess) -> dict[str, Any]:
    api = sp.wait_for(r"API and dashboard on (\S+)").group(1)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s,
        s.get(f"{api}api/overview") as r,
    ):
        assert r.status == 200
        data: dict[str, Any] = await r.json()
        return data


def leads(sp: ServeProcess) -> bool:
    return any("became the leader" in line for line in sp.lines)


async def test_one_leader_writes_status_and_hands_over(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    replicas = {name: start_replica(kube_api, serve, name) for name in ("replica-1", "replica-2")}
    for sp in replicas.values():
        await asyncio.to_thread(sp.wait_ready)
        assert await get(sp, "a.test") == 200  # every replica serves traffic
    await eventually(lambda: holder(kube_api) in replicas, "a leader")
    leader_name = holder(kube_api)
    follower_name = next(n for n in replicas if n != leader_name)
    leader, follower = replicas[leader_name], replicas[follower_name]
    await eventually(lambda: load_balancer(kube_api, "a") == WANT, "status written")
    await asyncio.sleep(3 * LEASE / 2)  # a few renewals: leadership is stable, the follower stays one
    assert leads(leader) and not leads(follower)
    assert holder(kube_api) == leader_name
    assert status_writers(kube_api) == {leader_name}
    for name, sp in replicas.items():  # each replica's API says who it is and who leads
        leadership = (await overview(sp))["config"]["leadership"]
        assert leadership == {
            "identity": name,
            "leader": name == leader_name,
            "election": True,
            "current_leader": leader_name,
        }

    # SIGTERM: the leader releases the Lease; the follower takes over at its next retry.
    leader.signal(signal.SIGTERM)
    await eventually(lambda: leads(follower), "the follower to lead", timeout=LEASE + 10)
    # Wait for the exit: stop() would send a second SIGTERM, which ends a draining server at once.
    assert await asyncio.to_thread(leader.proc.wait, 30) == 0
    # Released on the way out, so the follower did not have to wait for it to expire (how fast the
    # handover is belongs to tests/kubernetes/test_leader.py's release test, with a long lease).
    assert any("released the leader Lease" in line for line in leader.lines), leader.text
    assert holder(kube_api) == follower_name
    ingress_app(kube_api, "b", backend.port)
    await eventually(
        lambda: load_balancer(kube_api, "b") == WANT, "status of a new Ingress by the new leader"
    )
    assert status_writers(kube_api) == {leader_name, follower_name}
    writes_by_old = [
        r for r in kube_api.request_log() if r.user == leader_name and r.path.endswith("/b/status")
    ]
    assert writes_by_old == []

    # SIGKILL: no release; a third replica waits out the lease, then leads.
    third = start_replica(kube_api, serve, "replica-3")
    await asyncio.to_thread(third.wait_ready)
    await asyncio.sleep(0.5)
    assert not leads(third)
    killed_at = time.monotonic()
    follower.proc.kill()
    await eventually(
        lambda: leads(third), "the third replica to lead after the lease expired", timeout=LEASE + 10
    )
    took = time.monotonic() - killed_at
    assert took >= LEASE * 0.8, f"took {took:.2f}s: the lease cannot have expired yet"
    assert holder(kube_api) == "replica-3"


async def test_workers_are_replicas_of_their_own(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    """--workers 2: each worker process takes part in the election under its own identity; one leads."""
    ingress_app(kube_api, "a", backend.port)
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--workers",
        "2",
        "--publish-address",
        "192.0.2.10",
        "--leader-election-lease-duration",
        str(LEASE),
        env={"POD_NAME": "pod-1", "POD_NAMESPACE": "ingressctl"},
    )
    await asyncio.to_thread(sp.wait_ready)
    await eventually(lambda: holder(kube_api) in ("pod-1-w0", "pod-1-w1"), "a worker to lead")
    await eventually(lambda: load_balancer(kube_api, "a") == WANT, "status written")
    await asyncio.sleep(LEASE)
    assert sum("became the leader" in line for line in sp.lines) == 1
    assert await get(sp, "a.test") == 200
