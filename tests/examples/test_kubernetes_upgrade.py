"""A rolling upgrade of examples/kubernetes/40-deployment.yaml, as its strategy does it: a new pod starts
and becomes Ready, then the old one (the leader) gets SIGTERM. The new pod serves throughout, takes the
Lease over, and does the leader's work from then on (Ingress status).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.examples.harness import (
    LB_IP,
    api_server_in_pod,
    backend_in_pod_network,
    documents,
    http_get,
    pod_network,
    prepare_cluster,
    start_pod,
    wait_passing,
)
from tests.examples.netns import PodNetwork
from tests.examples.pod import container, container_port
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress, load_balancer, service
from tests.serve.conftest import ServeProcess

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


def holder(kube_api: KubeAPIServer, namespace: str) -> str:
    lease = kube_api.get("Lease", namespace, "ingressctl-leader") or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


async def eventually(what: str, check: Any, sp: ServeProcess, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"{what} never happened:\n{sp.text}"
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def steady_traffic(network: PodNetwork, url: str, host: str) -> AsyncIterator[list[str]]:
    """Requests one after another into `network` until the block ends; yields the failures."""
    failures: list[str] = []
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            status, body = await asyncio.to_thread(network.call, http_get, url, host)
            if status != 200:
                failures.append(f"{status} {body[:80]}")
            await asyncio.sleep(0.02)

    task = asyncio.create_task(loop())
    try:
        yield failures
    finally:
        stop.set()
        await task


async def test_rolling_upgrade_hands_the_lease_over_without_a_failed_request(
    kube_api: KubeAPIServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (workload,) = documents("40-deployment.yaml")
    strategy = workload["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}  # what this test plays out
    namespace = workload["metadata"]["namespace"]
    readiness = container(workload)["readinessProbe"]
    ready_port = container_port(workload, readiness["httpGet"]["port"])
    https = container_port(workload, "https")
    with pod_network("10.0.0.5") as old_net, pod_network("10.0.0.6") as new_net:
        async with (
            api_server_in_pod(old_net, kube_api),
            api_server_in_pod(new_net, kube_api),
            backend_in_pod_network(old_net, new_net) as backend_port,
        ):
            prepare_cluster(kube_api, workload, backend_port)
            old = start_pod(old_net, workload, kube_api, tmp_path / "old", cli_env, "ingressctl-old")
            new: ServeProcess | None = None
            try:
                await wait_passing(old_net, old, readiness, ready_port, "old pod readiness")

                async def old_leads() -> bool:
                    return holder(kube_api, namespace) == "ingressctl-old"

                await eventually("the old pod leading", old_leads, old)
                new = start_pod(new_net, workload, kube_api, tmp_path / "new", cli_env, "ingressctl-new")
                await wait_passing(new_net, new, readiness, ready_port, "new pod readiness")
                url = f"https://{new_net.pod_ip}:{https}/"
                async with steady_traffic(new_net, url, "app.test") as failures:
                    old.proc.send_signal(signal.SIGTERM)  # the old pod goes once the new one is Ready
                    assert await asyncio.to_thread(old.proc.wait, 60) == 0, old.text

                    async def new_leads() -> bool:
                        return holder(kube_api, namespace) == "ingressctl-new"

                    await eventually("the Lease handed to the new pod", new_leads, new)
                    # The new leader does the leader's work: an Ingress created now gets its status.
                    kube_api.apply_many(
                        [
                            service("later", "shop"),
                            endpoint_slice("later-1", "later", ["127.0.0.1"], "shop", port=backend_port),
                            ingress(
                                "later",
                                "shop",
                                host="later.test",
                                service_name="later",
                                ingress_class="ingressctl",
                            ),
                        ]
                    )

                    async def status_written() -> bool:
                        return load_balancer(kube_api, "later") == [{"ip": LB_IP}]

                    await eventually("status written by the new leader", status_written, new)
                assert failures == [], failures
                assert "ingressctl-old is no longer the leader" in old.text  # it gave the Lease up
                readiness_now = await asyncio.to_thread(
                    new_net.call, http_get, f"http://{new_net.pod_ip}:{ready_port}/ready"
                )
                assert readiness_now == (200, "OK")
            finally:
                old.stop()
                if new is not None:
                    assert new.stop() == 0, new.text
