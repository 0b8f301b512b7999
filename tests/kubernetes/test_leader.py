"""Two replicas and one Lease: exactly one leads; it hands over on release and when it stops renewing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ingressctl.providers.kubernetes import Connection, KubernetesProvider, LeaderElector
from tests.kubeapi import KubeAPIServer
from tests.kubernetes.conftest import kube_config
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(60)


def connection(server: KubeAPIServer, token: str) -> Connection:
    server.add_token(token, f"system:serviceaccount:ingressctl:{token}")
    return KubernetesProvider(kube_config(server, token)).connection


def elector(server: KubeAPIServer, token: str, events: list[str], lease: float = 2) -> LeaderElector:
    return LeaderElector(
        connection(server, token),
        namespace="ingressctl",
        identity=token,
        lease_duration=lease,
        renew_deadline=lease / 2,
        retry_period=0.1,
        on_started_leading=lambda: events.append(f"{token} started"),
        on_stopped_leading=lambda: events.append(f"{token} stopped"),
    )


@contextlib.asynccontextmanager
async def electing(e: LeaderElector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(e.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def holder(server: KubeAPIServer) -> str:
    lease = server.get("Lease", "ingressctl", "ingressctl-leader") or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def test_one_leader_and_handover_on_release(kube_api: KubeAPIServer) -> None:
    events: list[str] = []
    # A 60 s lease: b leading within the 20 s deadline below means it did not wait the lease out.
    a, b = elector(kube_api, "a", events, lease=60), elector(kube_api, "b", events, lease=60)
    async with electing(a) as task_a:
        await eventually(lambda: a.is_leader)
        async with electing(b):
            await eventually(lambda: b.leader == "a")
            await asyncio.sleep(0.5)  # b keeps trying and keeps failing: the lease is renewed
            assert a.is_leader and not b.is_leader and holder(kube_api) == "a"
            task_a.cancel()  # a shuts down and releases the lease
            with contextlib.suppress(asyncio.CancelledError):
                await task_a
            await eventually(lambda: b.is_leader, timeout=20)  # a released the lease: no expiry needed
            assert holder(kube_api) == "b" and not a.is_leader
    assert events[:3] == ["a started", "a stopped", "b started"]
    lease = kube_api.get("Lease", "ingressctl", "ingressctl-leader") or {}
    assert lease["spec"]["leaseTransitions"] >= 1


async def test_handover_when_the_leader_stops_renewing(kube_api: KubeAPIServer) -> None:
    events: list[str] = []
    a, b = elector(kube_api, "a", events), elector(kube_api, "b", events)
    async with electing(a):
        await eventually(lambda: a.is_leader)
        async with electing(b):
            await eventually(lambda: b.leader == "a")
            kube_api._run(lambda: kube_api.tokens.pop("a"))  # a loses the API (401 on every renewal)
            await eventually(lambda: not a.is_leader, timeout=5)  # a steps down after its renew deadline
            waited = await eventually(lambda: b.is_leader, timeout=10)  # b takes over once the lease expired
            assert holder(kube_api) == "b"
            assert waited > 0.3  # not before the lease had a chance to expire
    # Never two leaders: a stopped acting (renew deadline) before b could take the lease (duration).
    assert events.index("a stopped") < events.index("b started")


async def test_racing_for_an_expired_lease_one_wins(kube_api: KubeAPIServer) -> None:
    events: list[str] = []
    electors = [elector(kube_api, name, events) for name in ("a", "b", "c")]
    tasks = [asyncio.create_task(e.run()) for e in electors]
    try:
        await eventually(lambda: any(e.is_leader for e in electors))
        for _ in range(20):
            assert sum(e.is_leader for e in electors) == 1
            await asyncio.sleep(0.05)
        conflicts = [r for r in kube_api.request_log() if r.status == 409]
        assert all("/leases" in r.path for r in conflicts)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
