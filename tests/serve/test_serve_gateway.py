"""`serve --kubernetes --gateway` end to end: Gateways and HTTPRoutes created with the official client are
routed to real loopback backends, changes and deletions follow, the leader (only) writes their status,
and a cluster without the Gateway API CRDs keeps its Ingresses served."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client, config

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress_app, load_balancer, service
from tests.kubeapi.gateway_fixtures import (
    CONTROLLER,
    GROUP,
    gateway,
    gateway_class,
    http_route,
    reference_grant,
)
from tests.support.ports import free_port

from .backends import Backend
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(120)

NS = "shop"
ADDRESS = "192.0.2.10"


@pytest.fixture
def custom(kube_api: KubeAPIServer) -> Iterator[client.CustomObjectsApi]:
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig(context="user")))
    yield client.CustomObjectsApi(api)
    api.close()


async def until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await asyncio.to_thread(predicate)):
        assert loop.time() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.05)
    return value


async def fetch(port: int, host: str, path: str = "/") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}) as resp,
    ):
        return resp.status, await resp.text()


async def wait_status_code(port: int, host: str, code: int, path: str = "/") -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        try:
            status, body = await fetch(port, host, path)
        except aiohttp.ClientError:
            status, body = 0, ""
        if status == code:
            return body
        assert loop.time() < deadline, f"{host}{path}: {status}, not {code}"
        await asyncio.sleep(0.05)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def gateway_status_writes(server: KubeAPIServer) -> list[str]:
    return [
        r.path
        for r in server.request_log()
        if r.method == "PUT" and GROUP in r.path and r.path.endswith("/status")
    ]


def backend_objects(name: str, port: int, address: str = "127.0.0.1") -> list[dict[str, Any]]:
    return [service(name, NS), endpoint_slice(f"{name}-1", name, [address], NS, port=port)]


def serve_gateway(
    serve: Callable[..., ServeProcess],
    kube_api: KubeAPIServer,
    port: int,
    *extra: str,
    token: str = "test-token",
    env: dict[str, str] | None = None,
) -> ServeProcess:
    kubeconfig = kube_api.write_kubeconfig(token=token, context=f"serve-{token}")
    return serve(
        "--kubernetes",
        "--gateway",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        f"web=127.0.0.1:{port}",
        "--publish-address",
        ADDRESS,
        "--leader-election-namespace",
        "ingressctl",
        *extra,
        env=env,
    )


async def test_gateway_and_route_are_served_and_their_status_follows(
    kube_api: KubeAPIServer,
    backend: Backend,
    serve: Callable[..., ServeProcess],
    custom: client.CustomObjectsApi,
) -> None:
    port = free_port()
    other = await Backend("127.0.0.2").start()
    try:
        kube_api.apply_many(
            backend_objects("app", backend.port) + backend_objects("api", other.port, "127.0.0.2")
        )
        custom.create_cluster_custom_object(GROUP, "v1", "gatewayclasses", gateway_class("ingressctl"))
        custom.create_namespaced_custom_object(
            GROUP, "v1", NS, "gateways", gateway("gw", "ingressctl", NS, port=port)
        )
        custom.create_namespaced_custom_object(
            GROUP,
            "v1",
            NS,
            "httproutes",
            http_route("r", NS, parent="gw", hostnames=["app.test"], backend="app"),
        )
        sp = serve_gateway(serve, kube_api, port)
        await asyncio.to_thread(sp.wait_ready)
        body = await wait_status_code(port, "app.test", 200)
        assert body == "127.0.0.1 app.test"

        # Status, as read back through the client.
        def route_parent() -> dict[str, Any] | None:
            status = (
                custom.get_namespaced_custom_object(GROUP, "v1", NS, "httproutes", "r").get("status") or {}
            )
            ours = [p for p in status.get("parents") or [] if p.get("controllerName") == CONTROLLER]
            return ours[0] if ours and condition(ours[0], "Accepted").get("status") == "True" else None

        parent = await until(route_parent, "the route's Accepted parent status")
        assert parent["parentRef"]["name"] == "gw"
        assert condition(parent, "Accepted")["observedGeneration"] == 1
        assert condition(parent, "ResolvedRefs")["status"] == "True"
        gw_status = (custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw")).get(
            "status"
        ) or {}
        await until(
            lambda: (
                condition(
                    custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw").get("status")
                    or {},
                    "Programmed",
                ).get("status")
                == "True"
            ),
            "the Gateway Programmed",
        )
        gw_status = custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw")["status"]
        assert condition(gw_status, "Accepted")["status"] == "True"
        assert gw_status["addresses"] == [{"type": "IPAddress", "value": ADDRESS}]
        (listener,) = gw_status["listeners"]
        assert listener["attachedRoutes"] == 1
        cls = custom.get_cluster_custom_object(GROUP, "v1", "gatewayclasses", "ingressctl")
        assert condition(cls["status"], "Accepted")["status"] == "True"
        # Written once, with the address from the start (resolved before the Gateway pass).
        assert [p for p in gateway_status_writes(kube_api) if "/gateways/" in p] == [
            f"/apis/{GROUP}/v1/namespaces/{NS}/gateways/gw/status"
        ]
        gw_meta = custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw")["metadata"]
        assert gw_meta["generation"] == 1  # status writes never bump it

        # Another table (an unrelated Ingress) runs another status pass: nothing of ours is written again.
        writes = gateway_status_writes(kube_api)
        ingress_app(kube_api, "unrelated", backend.port, NS)
        await wait_status_code(port, "unrelated.test", 200)
        await until(lambda: load_balancer(kube_api, "unrelated", NS), "the new Ingress's status")
        assert gateway_status_writes(kube_api) == writes

        # A spec change: routed the new way, observedGeneration follows.
        current = custom.get_namespaced_custom_object(GROUP, "v1", NS, "httproutes", "r")
        current["spec"]["rules"] = [{"backendRefs": [{"name": "api", "port": 80}]}]
        current["spec"]["hostnames"] = ["api.test"]
        updated = custom.replace_namespaced_custom_object(GROUP, "v1", NS, "httproutes", "r", current)
        assert updated["metadata"]["generation"] == 2
        assert await wait_status_code(port, "api.test", 200) == "127.0.0.2 api.test"
        await wait_status_code(port, "app.test", 404)
        await until(
            lambda: (p := route_parent()) is not None and condition(p, "Accepted")["observedGeneration"] == 2,
            "observedGeneration 2",
        )

        # Deleted: not routed any more, and the listener counts no route.
        custom.delete_namespaced_custom_object(GROUP, "v1", NS, "httproutes", "r")
        await wait_status_code(port, "api.test", 404)
        await until(
            lambda: (
                (
                    custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw")["status"][
                        "listeners"
                    ][0]
                )["attachedRoutes"]
                == 0
            ),
            "attachedRoutes 0",
        )
    finally:
        await other.stop()


async def test_followers_do_not_write_gateway_status(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    port_a, port_b = free_port(), free_port()
    kube_api.apply_many(
        [
            *backend_objects("app", backend.port),
            gateway_class("ingressctl"),
            gateway("gw", "ingressctl", NS, port=port_a),
            http_route("r", NS, parent="gw", hostnames=["app.test"], backend="app"),
        ]
    )
    replicas = []
    for name, port in (("a", port_a), ("b", port_b)):
        kube_api.add_token(f"token-{name}", name)
        sp = serve_gateway(
            serve,
            kube_api,
            port,
            "--leader-election-lease-duration",
            "2",
            token=f"token-{name}",
            env={"POD_NAME": name, "POD_NAMESPACE": "ingressctl"},
        )
        replicas.append(sp)
    for sp in replicas:
        await asyncio.to_thread(sp.wait_ready)
    await wait_status_code(port_a, "app.test", 200)

    def writers() -> set[str]:
        return {
            r.user
            for r in kube_api.request_log()
            if r.path.endswith("/status") and r.method == "PUT" and GROUP in r.path
        }

    await until(lambda: len(writers()) > 0, "a Gateway API status write")
    await asyncio.sleep(1.0)  # a follower writing would have done so by now
    lease = kube_api.get("Lease", "ingressctl", "ingressctl-leader") or {}
    leader = lease["spec"]["holderIdentity"]
    assert writers() == {leader}


async def test_without_the_crds_ingresses_are_served_and_one_line_says_why(
    tmp_path: Path, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    with KubeAPIServer(tmp_path / "bare", bookmark_interval=0.3, gateway_api=False) as bare:
        ingress_app(bare, "web", backend.port)
        port = free_port()
        sp = serve_gateway(serve, bare, port)
        await asyncio.to_thread(sp.wait_ready)
        assert await wait_status_code(port, "web.test", 200) == "127.0.0.1 web.test"
        ingress_app(bare, "later", backend.port)  # the Ingress side keeps following changes
        await wait_status_code(port, "later.test", 200)
        said = [line for line in sp.lines if "does not serve gateway.networking.k8s.io" in line]
        assert len(said) == 1, sp.text
        assert "WARNING" in said[0] and "are the Gateway API CRDs installed?" in said[0]
        assert await asyncio.to_thread(sp.stop) == 0


async def test_cross_namespace_backend_needs_a_reference_grant_and_other_classes_are_left_alone(
    kube_api: KubeAPIServer,
    backend: Backend,
    serve: Callable[..., ServeProcess],
    custom: client.CustomObjectsApi,
) -> None:
    port = free_port()
    kube_api.apply_many(
        [
            service("app", "backends"),
            endpoint_slice("app-1", "app", ["127.0.0.1"], "backends", port=backend.port),
            gateway_class("ingressctl"),
            gateway("gw", "ingressctl", NS, port=port),
            # Ours too, but not the class this replica serves (--gateway-class): not touched at all.
            gateway_class("second"),
            gateway("gw2", "second", NS, port=port),
        ]
    )
    route = http_route("r", NS, parent="gw", hostnames=["app.test"])
    route["spec"]["rules"] = [{"backendRefs": [{"name": "app", "namespace": "backends", "port": 80}]}]
    custom.create_namespaced_custom_object(GROUP, "v1", NS, "httproutes", route)
    sp = serve_gateway(serve, kube_api, port, "--gateway-class", "ingressctl")
    await asyncio.to_thread(sp.wait_ready)

    def resolved_refs() -> dict[str, Any]:
        status = custom.get_namespaced_custom_object(GROUP, "v1", NS, "httproutes", "r").get("status") or {}
        parents = [p for p in status.get("parents") or [] if p.get("controllerName") == CONTROLLER]
        return condition(parents[0], "ResolvedRefs") if parents else {}

    # No ReferenceGrant: the reference is refused (500, as the API asks) and the status says why.
    await wait_status_code(port, "app.test", 500)
    refused = await until(
        lambda: (c := resolved_refs()) and c.get("status") == "False" and c, "ResolvedRefs False"
    )
    assert refused["reason"] == "RefNotPermitted"
    # The grant, created through the client (v1beta1, as the provider reads it): routed, refs resolved.
    custom.create_namespaced_custom_object(
        GROUP, "v1beta1", "backends", "referencegrants", reference_grant("allow-shop", "backends", from_ns=NS)
    )
    assert await wait_status_code(port, "app.test", 200) == "127.0.0.1 app.test"
    await until(lambda: resolved_refs().get("status") == "True", "ResolvedRefs True")
    # The other class and its Gateway still carry the API server's pending default.
    second = custom.get_cluster_custom_object(GROUP, "v1", "gatewayclasses", "second")
    assert condition(second["status"], "Accepted")["reason"] == "Pending"
    gw2 = custom.get_namespaced_custom_object(GROUP, "v1", NS, "gateways", "gw2")
    assert condition(gw2["status"], "Programmed")["reason"] == "Pending"
