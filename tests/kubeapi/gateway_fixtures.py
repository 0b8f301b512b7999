"""Gateway API objects as a user writes them (before the API server's defaults), for tests."""

from __future__ import annotations

from typing import Any

from ingressctl.model.gateway import (
    Condition,
    ConditionStatus,
    GatewayClassStatus,
    GatewayStatus,
    GatewayStatusReport,
    HTTPRouteStatus,
    ParentRef,
    RouteParentStatus,
)
from ingressctl.model.objects import ObjectRef

GROUP = "gateway.networking.k8s.io"
CONTROLLER = "ingressctl.io/gateway-controller"


def gateway_class(name: str, controller: str = CONTROLLER) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": controller},
    }


def gateway(
    name: str,
    class_name: str,
    ns: str = "default",
    *,
    listeners: list[dict[str, Any]] | None = None,
    port: int = 80,
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "gatewayClassName": class_name,
            "listeners": listeners
            if listeners is not None
            else [{"name": "web", "port": port, "protocol": "HTTP"}],
        },
    }


def http_route(
    name: str,
    ns: str = "default",
    *,
    parent: str,
    parent_ns: str = "",
    hostnames: list[str] | None = None,
    rules: list[dict[str, Any]] | None = None,
    backend: str = "",
    backend_port: int = 80,
) -> dict[str, Any]:
    """An HTTPRoute attached to Gateway `parent`; `backend`: one rule sending everything to that Service."""
    parent_ref: dict[str, Any] = {"name": parent}
    if parent_ns:
        parent_ref["namespace"] = parent_ns
    spec: dict[str, Any] = {"parentRefs": [parent_ref]}
    if hostnames:
        spec["hostnames"] = hostnames
    if backend:
        spec["rules"] = [{"backendRefs": [{"name": backend, "port": backend_port}]}]
    elif rules is not None:
        spec["rules"] = rules
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def reference_grant(
    name: str, ns: str, *, from_ns: str, from_kind: str = "HTTPRoute", to_kind: str = "Service"
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "from": [{"group": GROUP, "kind": from_kind, "namespace": from_ns}],
            "to": [{"group": "", "kind": to_kind}],
        },
    }


def gateway_objects(ns: str = "default") -> list[dict[str, Any]]:
    """GatewayClass `ours`, Gateway `gw` and HTTPRoute `r` (to Service `web`) in `ns`."""
    return [gateway_class("ours"), gateway("gw", "ours", ns), http_route("r", ns, parent="gw", backend="web")]


def accepted_report(ns: str = "default") -> GatewayStatusReport:
    """All three of `gateway_objects` Accepted, as the compiler would report them."""
    accepted = (Condition("Accepted", ConditionStatus.TRUE, "Accepted", observed_generation=1),)
    cls, gw, route = (
        ObjectRef("GatewayClass", "", "ours"),
        ObjectRef("Gateway", ns, "gw"),
        ObjectRef("HTTPRoute", ns, "r"),
    )
    return GatewayStatusReport(
        CONTROLLER,
        gateway_classes={cls: GatewayClassStatus(cls, accepted)},
        gateways={gw: GatewayStatus(gw, accepted)},
        http_routes={
            route: HTTPRouteStatus(route, (RouteParentStatus(ParentRef("gw"), CONTROLLER, accepted),))
        },
    )
