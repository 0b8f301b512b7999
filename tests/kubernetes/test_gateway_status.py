"""Gateway API status writes against the test API server: what the compiler reported, written only
when it differs, others' route parents kept, transition times kept for unchanged conditions."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from ingressctl.model.gateway import (
    Condition,
    ConditionStatus,
    GatewayClassStatus,
    GatewayStatus,
    GatewayStatusReport,
    HTTPRouteStatus,
    ListenerStatus,
    ParentRef,
    RouteGroupKind,
    RouteParentStatus,
)
from ingressctl.model.objects import ObjectRef
from ingressctl.providers.kubernetes import KubernetesProvider
from ingressctl.providers.kubernetes.address import PublishAddress, parse_publish_address
from ingressctl.providers.kubernetes.kinds import GATEWAY_CLASS, HTTP_ROUTE, Kind
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.gateway_fixtures import CONTROLLER, GROUP, gateway, gateway_class, http_route
from tests.kubernetes.conftest import FAST, kube_config, running

pytestmark = pytest.mark.timeout(60)

OLD = "2020-01-01T00:00:00Z"
TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def _status(server: KubeAPIServer, kind: str, ns: str, name: str) -> dict[str, Any]:
    return dict((server.get(kind, ns, name) or {}).get("status") or {})


def _writes(server: KubeAPIServer) -> int:
    return sum(1 for r in server.request_log() if r.path.endswith("/status") and r.method == "PUT")


async def _watched(provider: KubernetesProvider, kind: Kind, key: tuple[str, str], version: str) -> None:
    """Wait until the watch shows the object at `version` (our write came back)."""
    for _ in range(1000):
        for worker in provider._workers:
            if (
                worker.kind is kind
                and (seen := worker.observed().get(key))
                and seen.resource_version == version
            ):
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the watch never showed {key} at {version}")


def _class_report(status: ConditionStatus, reason: str, message: str = "") -> GatewayStatusReport:
    ref = ObjectRef("GatewayClass", "", "ours")
    cond = Condition("Accepted", status, reason, message, observed_generation=1)
    return GatewayStatusReport(CONTROLLER, gateway_classes={ref: GatewayClassStatus(ref, (cond,))})


async def test_gateway_class_accepted_replaces_the_pending_default_and_keeps_transition_times(
    kube_api: KubeAPIServer,
) -> None:
    kube_api.apply(gateway_class("ours"))
    assert _status(kube_api, "GatewayClass", "", "ours")["conditions"][0]["reason"] == "Pending"
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.gateway_classes) == 1)
        assert await provider.publish_gateway_status(_class_report(TRUE, "Accepted"), None) == 1
        (cond,) = _status(kube_api, "GatewayClass", "", "ours")["conditions"]
        assert (cond["type"], cond["status"], cond["reason"], cond["observedGeneration"]) == (
            "Accepted",
            "True",
            "Accepted",
            1,
        )
        first_time = cond["lastTransitionTime"]
        assert first_time != "1970-01-01T00:00:00Z"
        # Nothing changed: nothing written, whether or not the watch brought our write back yet.
        writes = _writes(kube_api)
        assert await provider.publish_gateway_status(_class_report(TRUE, "Accepted"), None) == 0
        assert _writes(kube_api) == writes
        # The same status with another message: written, the transition time kept.
        stored = kube_api.get("GatewayClass", "", "ours") or {}
        await _watched(provider, GATEWAY_CLASS, ("", "ours"), stored["metadata"]["resourceVersion"])
        assert await provider.publish_gateway_status(_class_report(TRUE, "Accepted", "fine"), None) == 1
        (cond,) = _status(kube_api, "GatewayClass", "", "ours")["conditions"]
        assert cond["message"] == "fine" and cond["lastTransitionTime"] == first_time
        assert (kube_api.get("GatewayClass", "", "ours") or {})["metadata"]["generation"] == 1


async def test_transition_time_changes_only_with_the_condition_status(kube_api: KubeAPIServer) -> None:
    kube_api.apply(gateway_class("ours"))
    body = gateway_class("ours")
    body["status"] = {
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Accepted",
                "message": "",
                "lastTransitionTime": OLD,
                "observedGeneration": 1,
            }
        ]
    }
    kube_api.apply(body)
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.gateway_classes) == 1)
        assert await provider.publish_gateway_status(_class_report(TRUE, "Accepted", "still"), None) == 1
        assert _status(kube_api, "GatewayClass", "", "ours")["conditions"][0]["lastTransitionTime"] == OLD
        stored = kube_api.get("GatewayClass", "", "ours") or {}
        await _watched(provider, GATEWAY_CLASS, ("", "ours"), stored["metadata"]["resourceVersion"])
        report = _class_report(FALSE, "InvalidParameters", "bad")
        assert await provider.publish_gateway_status(report, None) == 1
        cond = _status(kube_api, "GatewayClass", "", "ours")["conditions"][0]
        assert cond["status"] == "False" and cond["lastTransitionTime"] != OLD


async def test_gateway_listeners_attached_routes_and_published_address(kube_api: KubeAPIServer) -> None:
    kube_api.apply_many([gateway_class("ours"), gateway("gw", "ours", "shop")])
    ref = ObjectRef("Gateway", "shop", "gw")
    ok = Condition("Accepted", TRUE, "Accepted", observed_generation=1)
    programmed = Condition("Programmed", TRUE, "Programmed", observed_generation=1)
    listener = ListenerStatus(
        "web",
        2,
        (Condition("Accepted", TRUE, "Accepted", observed_generation=1),),
        (RouteGroupKind("HTTPRoute"),),
    )
    report = GatewayStatusReport(
        CONTROLLER, gateways={ref: GatewayStatus(ref, (ok, programmed), (listener,))}
    )
    address: PublishAddress = parse_publish_address("192.0.2.10,lb.example.test")
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.gateways) == 1)
        assert await provider.publish_gateway_status(report, address) == 1
    status = _status(kube_api, "Gateway", "shop", "gw")
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("Accepted", "True"),
        ("Programmed", "True"),
    ]
    assert status["addresses"] == [
        {"type": "IPAddress", "value": "192.0.2.10"},
        {"type": "Hostname", "value": "lb.example.test"},
    ]
    (web,) = status["listeners"]
    assert web["name"] == "web" and web["attachedRoutes"] == 2
    assert web["supportedKinds"] == [{"group": GROUP, "kind": "HTTPRoute"}]
    assert web["conditions"][0]["type"] == "Accepted"


async def test_route_parents_of_other_controllers_are_kept(kube_api: KubeAPIServer) -> None:
    theirs = {
        "parentRef": {"group": GROUP, "kind": "Gateway", "name": "other-gw"},
        "controllerName": "example.net/other-controller",
        "conditions": [
            {
                "type": "Accepted",
                "status": "True",
                "reason": "Accepted",
                "message": "",
                "lastTransitionTime": OLD,
                "observedGeneration": 1,
            }
        ],
    }
    kube_api.apply(http_route("r", "shop", parent="gw", backend="web"))
    body = http_route("r", "shop", parent="gw", backend="web")
    body["status"] = {"parents": [theirs]}
    kube_api.apply(body)
    ref = ObjectRef("HTTPRoute", "shop", "r")
    parent = RouteParentStatus(
        ParentRef("gw"),
        CONTROLLER,
        (
            Condition("Accepted", TRUE, "Accepted", observed_generation=1),
            Condition(
                "ResolvedRefs", FALSE, "BackendNotFound", "service shop/web not found", observed_generation=1
            ),
        ),
    )
    report = GatewayStatusReport(CONTROLLER, http_routes={ref: HTTPRouteStatus(ref, (parent,))})
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.http_routes) == 1)
        assert await provider.publish_gateway_status(report, None) == 1
        parents = _status(kube_api, "HTTPRoute", "shop", "r")["parents"]
        assert parents[0] == theirs
        ours = parents[1]
        assert ours["controllerName"] == CONTROLLER
        assert ours["parentRef"] == {"group": GROUP, "kind": "Gateway", "name": "gw"}
        assert [(c["type"], c["status"], c["reason"]) for c in ours["conditions"]] == [
            ("Accepted", "True", "Accepted"),
            ("ResolvedRefs", "False", "BackendNotFound"),
        ]
        # The route is ours no more (detached): our entry goes, theirs stays.
        stored = kube_api.get("HTTPRoute", "shop", "r") or {}
        await _watched(provider, HTTP_ROUTE, ("shop", "r"), stored["metadata"]["resourceVersion"])
        assert await provider.publish_gateway_status(GatewayStatusReport(CONTROLLER), None) == 1
        assert _status(kube_api, "HTTPRoute", "shop", "r")["parents"] == [theirs]


async def test_entries_of_another_replica_set_for_its_own_gateways_are_kept(kube_api: KubeAPIServer) -> None:
    """Two installations share the controller name, each serving its own class (--gateway-class): each
    answers for its own Gateways' entries only, and takes out entries for Gateways that are gone."""

    def entry(gateway_name: str) -> dict[str, Any]:
        return {
            "parentRef": {"group": GROUP, "kind": "Gateway", "name": gateway_name},
            "controllerName": CONTROLLER,
            "conditions": [
                {
                    "type": "Accepted",
                    "status": "True",
                    "reason": "Accepted",
                    "message": "",
                    "lastTransitionTime": OLD,
                    "observedGeneration": 1,
                }
            ],
        }

    kube_api.apply_many(
        [gateway_class("a"), gateway_class("b"), gateway("gw-a", "a", "shop"), gateway("gw-b", "b", "shop")]
    )
    body = http_route("r", "shop", parent="gw-a", backend="web")
    body["spec"]["parentRefs"] = [{"name": "gw-a"}, {"name": "gw-b"}]
    kube_api.apply(body)
    body["status"] = {"parents": [entry("gw-b"), entry("gone")]}
    kube_api.apply(body)
    route, gw_a = ObjectRef("HTTPRoute", "shop", "r"), ObjectRef("Gateway", "shop", "gw-a")
    accepted = (Condition("Accepted", TRUE, "Accepted", observed_generation=1),)
    report = GatewayStatusReport(
        CONTROLLER,
        gateways={gw_a: GatewayStatus(gw_a, accepted)},
        http_routes={
            route: HTTPRouteStatus(route, (RouteParentStatus(ParentRef("gw-a"), CONTROLLER, accepted),))
        },
    )
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.http_routes) == 1 and len(s.gateways) == 2)
        assert await provider.publish_gateway_status(report, None) == 2  # the Gateway and the route
        parents = _status(kube_api, "HTTPRoute", "shop", "r")["parents"]
        assert [p["parentRef"]["name"] for p in parents] == ["gw-b", "gw-a"]
        assert parents[0] == entry("gw-b")
        # Detached from gw-a: only that entry goes; gw-b's stays.
        stored = kube_api.get("HTTPRoute", "shop", "r") or {}
        await _watched(provider, HTTP_ROUTE, ("shop", "r"), stored["metadata"]["resourceVersion"])
        assert (
            await provider.publish_gateway_status(
                GatewayStatusReport(CONTROLLER, gateways=report.gateways), None
            )
            == 1
        )
        assert _status(kube_api, "HTTPRoute", "shop", "r")["parents"] == [entry("gw-b")]


async def test_a_write_racing_another_writer_is_retried_on_the_newer_version(kube_api: KubeAPIServer) -> None:
    kube_api.apply_many([gateway_class("ours"), gateway("gw", "ours", "shop")])
    ref = ObjectRef("Gateway", "shop", "gw")
    report = GatewayStatusReport(
        CONTROLLER,
        gateways={ref: GatewayStatus(ref, (Condition("Accepted", TRUE, "Accepted", observed_generation=1),))},
    )
    # The stall is noticed after 3 s: long after the write below, well within its 5 s wait for the watch.
    timing = dataclasses.replace(FAST, stall_timeout=3.0, stall_floor=3.0)
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=timing)
    async with running(provider) as rec:
        await rec.wait(lambda s: len(s.gateways) == 1)
        # Someone changes the Gateway while the watch does not show it (stalled): the write meets a
        # 409, waits for the watch (restarted after the stall) and writes over the newer version.
        kube_api.stall_watches("gateways")
        labelled = gateway("gw", "ours", "shop")
        labelled["metadata"]["labels"] = {"team": "shop"}
        kube_api.apply(labelled)
        assert await provider.publish_gateway_status(report, None) == 1
    conflicts = [r for r in kube_api.request_log() if r.path.endswith("/gw/status") and r.status == 409]
    assert len(conflicts) == 1
    stored = kube_api.get("Gateway", "shop", "gw") or {}
    assert stored["metadata"]["labels"] == {"team": "shop"}
    assert stored["status"]["conditions"][0]["status"] == "True"
