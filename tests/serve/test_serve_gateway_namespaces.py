"""allowedRoutes `namespaces.from: Selector` through a real `serve --kubernetes --gateway`: the labels of
the routes' Namespaces (watched through the official client against tests/kubeapi) decide attachment,
and relabelling a Namespace at runtime attaches or detaches its routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, service
from tests.kubeapi.gateway_fixtures import CONTROLLER, GROUP, gateway, gateway_class, http_route
from tests.support.ports import free_port

from .backends import Backend
from .conftest import ServeProcess
from .test_serve_gateway import condition, serve_gateway, until, wait_status_code

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def apis(kube_api: KubeAPIServer) -> Iterator[tuple[client.CustomObjectsApi, client.CoreV1Api]]:
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig(context="user")))
    yield client.CustomObjectsApi(api), client.CoreV1Api(api)
    api.close()


def _selecting_gateway(port: int) -> dict[str, Any]:
    """Routes from namespaces labelled `expose=yes` that are not labelled `tier=internal`."""
    return gateway(
        "gw",
        "ours",
        "infra",
        listeners=[
            {
                "name": "web",
                "port": port,
                "protocol": "HTTP",
                "allowedRoutes": {
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchLabels": {"expose": "yes"},
                            "matchExpressions": [
                                {"key": "tier", "operator": "NotIn", "values": ["internal"]},
                                {"key": "team", "operator": "Exists"},
                            ],
                        },
                    }
                },
            }
        ],
    )


async def test_namespace_labels_decide_attachment_and_a_relabel_reattaches(
    kube_api: KubeAPIServer,
    backend: Backend,
    serve: Callable[..., ServeProcess],
    apis: tuple[client.CustomObjectsApi, client.CoreV1Api],
) -> None:
    custom, core = apis
    port = free_port()
    core.create_namespace({"metadata": {"name": "shop", "labels": {"expose": "yes", "team": "a"}}})
    core.create_namespace({"metadata": {"name": "infra"}})
    objects: list[dict[str, Any]] = [gateway_class("ours"), _selecting_gateway(port)]
    for ns in ("shop", "ghost"):
        objects += [
            service("app", ns),
            endpoint_slice("app-1", "app", ["127.0.0.1"], ns, port=backend.port),
            http_route("r", ns, parent="gw", parent_ns="infra", hostnames=[f"{ns}.test"], backend="app"),
        ]
    # No Namespace object "ghost" (the fake API server, unlike a real one, lets objects live in it):
    # its labels are unknown, so its route is not attached (fail closed).
    kube_api.apply_many(objects)
    sp = serve_gateway(serve, kube_api, port)
    await asyncio.to_thread(sp.wait_ready)

    def accepted(ns: str) -> dict[str, Any]:
        status = custom.get_namespaced_custom_object(GROUP, "v1", ns, "httproutes", "r").get("status") or {}
        parents = [p for p in status.get("parents") or [] if p.get("controllerName") == CONTROLLER]
        return condition(parents[0], "Accepted") if parents else {}

    assert await wait_status_code(port, "shop.test", 200) == "127.0.0.1 shop.test"
    await until(lambda: accepted("shop").get("status") == "True", "shop's route Accepted")
    ghost = await until(
        lambda: (c := accepted("ghost")) and c.get("status") == "False" and c, "ghost refused"
    )
    assert ghost["reason"] == "NotAllowedByListeners"
    assert "Namespace ghost is unknown" in ghost["message"]
    assert (await wait_status_code(port, "ghost.test", 404)) is not None

    # Relabelled at runtime: tier=internal is refused by NotIn; the route detaches and says why.
    core.patch_namespace("shop", {"metadata": {"labels": {"tier": "internal"}}})
    await wait_status_code(port, "shop.test", 404)
    refused = await until(
        lambda: (c := accepted("shop")) and c.get("status") == "False" and c, "shop refused after relabel"
    )
    assert refused["reason"] == "NotAllowedByListeners"
    assert "Namespace shop does not match the namespace selector" in refused["message"]
    # Back to an allowed label set: attached again.
    core.patch_namespace("shop", {"metadata": {"labels": {"tier": "public"}}})
    assert await wait_status_code(port, "shop.test", 200) == "127.0.0.1 shop.test"
    await until(lambda: accepted("shop").get("status") == "True", "shop Accepted again")
    # The API server's own label is there and cannot be overwritten (NamespaceDefaultLabelName).
    core.patch_namespace("shop", {"metadata": {"labels": {"kubernetes.io/metadata.name": "other"}}})
    labels = core.read_namespace("shop").metadata.labels
    assert labels["kubernetes.io/metadata.name"] == "shop"
    # The ghost namespace appears with the right labels: its route attaches.
    core.create_namespace({"metadata": {"name": "ghost", "labels": {"expose": "yes", "team": "b"}}})
    assert await wait_status_code(port, "ghost.test", 200) == "127.0.0.1 ghost.test"
