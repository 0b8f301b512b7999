"""Ingress status writes: the address from flags or a Service, written only when it differs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ingressctl.model import UsageError
from ingressctl.providers.kubernetes import KubernetesProvider, list_snapshot
from ingressctl.providers.kubernetes.address import (
    PodReference,
    PublishAddress,
    parse_publish_address,
    parse_publish_service,
    pod_reference,
)
from ingressctl.providers.kubernetes.client import ApiError
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, node, pod, service
from tests.kubernetes.conftest import kube_config, running

pytestmark = pytest.mark.timeout(60)


def lb(server: KubeAPIServer, name: str, ns: str = "default") -> list[dict[str, str]]:
    obj = server.get("Ingress", ns, name) or {}
    return ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


async def until_watched(provider: KubernetesProvider, ingresses: list[Any], address: PublishAddress) -> None:
    want = address.load_balancer_ingress()
    keys = {(i.meta.namespace, i.meta.name) for i in ingresses}
    for _ in range(500):
        state: dict[Any, Any] = {}
        for worker in provider._workers:
            state.update(worker.ingress_state())
        if all(state[k].load_balancer == want for k in keys):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the watch never brought the written status back")


def status_writes(server: KubeAPIServer) -> int:
    return sum(1 for r in server.request_log() if r.path.endswith("/status") and r.method in ("PUT", "PATCH"))


async def test_status_written_once_and_only_when_different(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.apply_many([ingress("a"), ingress("b"), ingress("c", "other")])
    provider = provider_factory()
    async with running(provider) as rec:
        snap = await rec.wait(lambda s: len(s.ingresses) == 3)
        served = [i for i in snap.ingresses if i.meta.name != "c"]
        address = await provider.resolve_publish_address(publish_address="192.0.2.10, lb.example.com")
        assert await provider.publish_status(served, address) == 2
        expected = [{"ip": "192.0.2.10"}, {"hostname": "lb.example.com"}]
        assert lb(kube_api, "a") == expected and lb(kube_api, "b") == expected
        assert lb(kube_api, "c", "other") == []
        # Once the watch has brought the new status back, publishing the same address writes nothing.
        await until_watched(provider, served, address)
        writes = status_writes(kube_api)
        assert await provider.publish_status(served, address) == 0
        assert await provider.publish_status(served, address) == 0
        assert status_writes(kube_api) == writes
        # A different address is written; an empty one clears the status.
        assert await provider.publish_status(served, PublishAddress(("192.0.2.11",))) == 2
        assert lb(kube_api, "a") == [{"ip": "192.0.2.11"}]
        assert await provider.publish_status(served, PublishAddress()) == 2
        assert lb(kube_api, "b") == []


async def test_status_write_that_loses_a_race_is_retried(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.apply(ingress("a"))
    provider = provider_factory()
    async with running(provider) as rec:
        snap = await rec.wait(lambda s: bool(s.ingresses))
        # Someone else changes the Ingress just before our write: the version we hold is stale.
        kube_api.set_delay(0.3, path_contains="/status")
        write = asyncio.create_task(provider.publish_status(snap.ingresses, PublishAddress(("192.0.2.1",))))
        await asyncio.sleep(0.1)
        kube_api.apply(ingress("a", labels={"changed": "yes"}))
        assert await write == 1
        kube_api.set_delay(0)
    assert lb(kube_api, "a") == [{"ip": "192.0.2.1"}]
    assert (kube_api.get("Ingress", "default", "a") or {})["metadata"]["labels"] == {"changed": "yes"}
    assert not any(r.method == "GET" and "/ingresses/" in r.path for r in kube_api.request_log())


async def test_status_of_an_ingress_not_watched_is_not_written(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.apply(ingress("a"))
    snap = list_snapshot(kube_config(kube_api))
    assert await provider_factory().publish_status(snap.ingresses, PublishAddress(("192.0.2.1",))) == 0
    assert lb(kube_api, "a") == []


async def test_publish_service_address(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    provider = provider_factory()
    kube_api.apply(service("ingressctl", "ingressctl"))
    address = await provider.resolve_publish_service_address("ingressctl/ingressctl")
    assert address == PublishAddress(("10.0.0.10",))  # no load balancer yet: the clusterIP
    lb_service = service("ingressctl", "ingressctl")
    lb_service["spec"]["type"] = "LoadBalancer"
    lb_service["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "elb.example"}]}}
    kube_api.apply(lb_service)
    address = await provider.resolve_publish_service_address("ingressctl/ingressctl")
    assert address == PublishAddress(("203.0.113.7",), ("elb.example",))


def test_publish_flags_are_validated() -> None:
    assert parse_publish_service("ns/name") == ("ns", "name")
    for bad in ("name", "/name", "ns/", "a/b/c"):
        with pytest.raises(UsageError, match="NAMESPACE/NAME"):
            parse_publish_service(bad)
    assert parse_publish_address("2001:db8::1,Host.Example.") == PublishAddress(
        ("2001:db8::1",), ("host.example",)
    )
    with pytest.raises(UsageError, match="neither an IP address nor a host name"):
        parse_publish_address("not an address")


async def test_running_address_external_then_internal_ip_then_host_ip(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    provider = provider_factory()
    me = PodReference("ingressctl", "ingressctl-0")
    kube_api.apply_many(
        [
            pod("ingressctl-0", "ingressctl", node_name="node-1", host_ip="10.0.0.5"),
            node("node-1", {"InternalIP": "10.0.0.6"}),
        ]
    )
    running = await provider.resolve_running_address(me)
    assert running.address == PublishAddress(("10.0.0.6",))
    assert running.source == "the InternalIP of node node-1, where pod ingressctl/ingressctl-0 runs"
    kube_api.apply(node("node-1", {"InternalIP": "10.0.0.6", "ExternalIP": "2001:db8::7"}))
    assert (await provider.resolve_running_address(me)).address == PublishAddress(("2001:db8::7",))

    # The node is gone (or may not be read): the pod's hostIP, saying why.
    kube_api.delete("Node", "", "node-1")
    running = await provider.resolve_running_address(me)
    assert running.address == PublishAddress(("10.0.0.5",))
    assert (
        "host IP of pod ingressctl/ingressctl-0" in running.source
        and "cannot read node node-1" in running.source
    )

    # Not scheduled: nothing. The pod IP (reachable inside the cluster only) is never published.
    kube_api.apply(pod("ingressctl-0", "ingressctl"))
    running = await provider.resolve_running_address(me)
    assert not running.address and "not scheduled on a node" in running.source

    # The pod itself missing is an error the caller reports (and retries).
    with pytest.raises(ApiError, match="not found"):
        await provider.resolve_running_address(PodReference("ingressctl", "gone"))


def test_pod_reference_from_the_downward_api() -> None:
    assert pod_reference({}, "default") is None
    assert pod_reference({"POD_NAME": "p"}, "sa-ns") == PodReference("sa-ns", "p")
    assert pod_reference({"POD_NAME": "p", "POD_NAMESPACE": "ns"}, "sa-ns") == PodReference("ns", "p")
