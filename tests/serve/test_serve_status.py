"""Ingress status: serve writes its address into the Ingresses it serves, and only when different."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, ingress_app, load_balancer, node, pod, service
from tests.kubeapi.server import ADMIN_USER, rule
from tests.support.polling import eventually

from .backends import Backend
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(90)


def status_writes(server: KubeAPIServer, user: str | None = None) -> list[str]:
    return [
        r.path.split("/")[-2]
        for r in server.request_log()
        if r.path.endswith("/status") and r.method in ("PUT", "PATCH") and (user is None or r.user == user)
    ]


async def test_status_follows_the_applied_tables(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    ingress_app(kube_api, "b", backend.port)
    ingress_app(kube_api, "other", backend.port, ingress_class="someone-else")
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--publish-address",
        "192.0.2.10,lb.example.test",
        "--leader-election-namespace",
        "ingressctl",
    )
    await asyncio.to_thread(sp.wait_ready)
    want = [{"ip": "192.0.2.10"}, {"hostname": "lb.example.test"}]
    await eventually(
        lambda: load_balancer(kube_api, "a") == want and load_balancer(kube_api, "b") == want,
        "status of a and b",
    )
    assert load_balancer(kube_api, "other") == []  # not ours: not touched
    lease = kube_api.get("Lease", "ingressctl", "ingressctl-leader")
    assert lease is not None and lease["spec"]["holderIdentity"]

    # A new Ingress gets its status after the table that serves it; the others are not written again.
    before = status_writes(kube_api)
    assert sorted(before) == ["a", "b"]
    ingress_app(kube_api, "c", backend.port)
    await eventually(lambda: load_balancer(kube_api, "c") == want, "status of c")
    await asyncio.sleep(0.5)
    assert sorted(status_writes(kube_api)) == ["a", "b", "c"]

    # An Ingress handed to another controller loses the address we wrote; the one that was never
    # ours keeps whatever it has.
    kube_api.apply(ingress("a", "shop", host="a.test", service_name="a", ingress_class="someone-else"))
    await eventually(lambda: load_balancer(kube_api, "a") == [], "status of a cleared")
    assert load_balancer(kube_api, "b") == want and load_balancer(kube_api, "other") == []
    await asyncio.sleep(0.5)
    assert sorted(status_writes(kube_api)) == ["a", "a", "b", "c"]
    assert await asyncio.to_thread(sp.stop) == 0
    # Stopping released the Lease for the next replica.
    lease = kube_api.get("Lease", "ingressctl", "ingressctl-leader")
    assert lease is not None and not lease["spec"].get("holderIdentity")


async def test_status_from_the_published_service(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    lb_service = service("ingressctl", "ingressctl")
    lb_service["spec"]["type"] = "LoadBalancer"
    lb_service["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    kube_api.apply(lb_service)
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--publish-service",
        "ingressctl/ingressctl",
        "--no-leader-election",
    )
    await asyncio.to_thread(sp.wait_ready)
    await eventually(
        lambda: load_balancer(kube_api, "a") == [{"ip": "203.0.113.7"}], "status from the Service"
    )
    assert kube_api.get("Lease", "default", "ingressctl-leader") is None  # no election asked for


async def test_publish_flags_are_checked_before_starting(serve: Callable[..., ServeProcess]) -> None:
    sp = serve("--kubernetes", "--kubeconfig", "/nonexistent", "--publish-service", "no-slash")
    assert await asyncio.to_thread(sp.proc.wait, 30) == 2
    await asyncio.to_thread(sp.wait_for, r"--publish-service")


def serve_in_pod(
    kube_api: KubeAPIServer, serve: Callable[..., ServeProcess], env: dict[str, str]
) -> ServeProcess:
    """`serve --kubernetes` with neither --publish-service nor --publish-address, in a pod (`env`)."""
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    return serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--leader-election-namespace",
        "ingressctl",
        env=env,
    )


IN_POD = {"POD_NAME": "ingressctl-5f7b9", "POD_NAMESPACE": "ingressctl"}


def on_node_1(kube_api: KubeAPIServer) -> None:
    """The pod of IN_POD runs on node-1 (InternalIP 10.0.0.5, ExternalIP 203.0.113.9)."""
    kube_api.apply_many(
        [
            pod("ingressctl-5f7b9", "ingressctl", node_name="node-1", host_ip="10.0.0.5"),
            node("node-1", {"InternalIP": "10.0.0.5", "ExternalIP": "203.0.113.9"}),
        ]
    )


async def test_without_publish_flags_the_nodes_address_is_published(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    on_node_1(kube_api)
    sp = serve_in_pod(kube_api, serve, IN_POD)
    await asyncio.to_thread(sp.wait_ready)
    await eventually(lambda: load_balancer(kube_api, "a") == [{"ip": "203.0.113.9"}], "status from the node")
    # The log says what was published and where it came from.
    await asyncio.to_thread(
        sp.wait_for,
        r"Ingress status gets 203\.0\.113\.9: the ExternalIP of node node-1, where pod "
        r"ingressctl/ingressctl-5f7b9 runs",
    )
    requested = {r.path for r in kube_api.request_log() if r.method == "GET"}
    assert "/api/v1/namespaces/ingressctl/pods/ingressctl-5f7b9" in requested
    assert "/api/v1/nodes/node-1" in requested


async def test_node_not_readable_falls_back_to_the_pods_host_ip(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    on_node_1(kube_api)
    # Everything serve needs except `get nodes`.
    watched = ["ingresses", "ingressclasses", "services", "endpointslices", "endpoints", "secrets"]
    kube_api.set_rules(
        [
            rule(ADMIN_USER, ["get", "list", "watch"], watched),
            rule(ADMIN_USER, ["update"], ["ingresses/status"]),
            rule(ADMIN_USER, ["get", "create", "update"], ["leases"]),
            rule(ADMIN_USER, ["get"], ["pods"]),
        ]
    )
    sp = serve_in_pod(kube_api, serve, IN_POD)
    await asyncio.to_thread(sp.wait_ready)
    await eventually(lambda: load_balancer(kube_api, "a") == [{"ip": "10.0.0.5"}], "status from the host IP")
    line = await asyncio.to_thread(sp.wait_for, r"Ingress status gets 10\.0\.0\.5: the host IP of pod .*")
    assert "cannot read node node-1" in line.group(0) and "forbidden" in line.group(0)


async def test_no_address_found_is_a_warning_naming_the_flags(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port)
    # Not in a pod (no POD_NAME): nothing to find the node by.
    sp = serve_in_pod(kube_api, serve, {"POD_NAME": ""})
    await asyncio.to_thread(sp.wait_ready)
    line = await asyncio.to_thread(sp.wait_for, r"WARNING.*Ingress status is not written and stays empty")
    assert "--publish-service" in line.string and "--publish-address" in line.string
    assert "POD_NAME" in line.string
    assert await asyncio.to_thread(sp.stop) == 0  # hands the Lease on to the next one
    # A pod that is not scheduled yet has no node: a warning too, and the status stays empty.
    kube_api.apply(pod("ingressctl-5f7b9", "ingressctl"))
    sp2 = serve_in_pod(kube_api, serve, IN_POD)
    await asyncio.to_thread(sp2.wait_ready)
    line = await asyncio.to_thread(
        sp2.wait_for, r"WARNING.*no address to publish for pod ingressctl/ingressctl-5f7b9"
    )
    assert "not scheduled on a node" in line.string and "--publish-service" in line.string
    assert load_balancer(kube_api, "a") == []
