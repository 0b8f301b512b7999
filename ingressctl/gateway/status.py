"""The status of Gateway API objects, computed from one compile (pure: no I/O, no clock).

GatewayClass: Accepted. Gateway: Accepted, Programmed, and per listener Accepted, Programmed,
ResolvedRefs, Conflicted with attachedRoutes and supportedKinds. HTTPRoute: per parent of ours,
Accepted (NotAllowedByListeners, NoMatchingListenerHostname, NoMatchingParent) and ResolvedRefs
(InvalidKind, BackendNotFound, RefNotPermitted). observedGeneration is each object's generation.
The Kubernetes provider writes the report (the leader only) and fills in status.addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ingressctl.gateway import reasons as r
from ingressctl.model.gateway import (
    Condition,
    ConditionStatus,
    GatewayClassStatus,
    GatewayStatus,
    GatewayStatusReport,
    HTTPRouteStatus,
    ListenerStatus,
    RouteParentStatus,
)
from ingressctl.model.objects import ObjectRef

if TYPE_CHECKING:
    from ingressctl.gateway.attach import Attached


def gateway_status(
    attached: Attached, resolved_refs: Mapping[int, Condition], controller_name: str
) -> GatewayStatusReport:
    classes: dict[ObjectRef, GatewayClassStatus] = {}
    for gateway_class in attached.classes.values():
        classes[gateway_class.ref] = GatewayClassStatus(
            gateway_class.ref,
            (
                Condition(
                    r.ACCEPTED,
                    ConditionStatus.TRUE,
                    r.ACCEPTED,
                    f"served by ingressctl ({controller_name})",
                    gateway_class.meta.generation,
                ),
            ),
        )
    gateways: dict[ObjectRef, GatewayStatus] = {}
    for state in attached.gateways:
        listeners = tuple(
            ListenerStatus(
                name=lst.listener.name,
                attached_routes=lst.attached,
                conditions=tuple(lst.conditions),
                supported_kinds=lst.supported_kinds,
            )
            for lst in state.listeners
        )
        gateways[state.gateway.ref] = GatewayStatus(state.gateway.ref, tuple(state.conditions), listeners)
    routes: dict[ObjectRef, HTTPRouteStatus] = {}
    for route, results in attached.routes:
        refs = resolved_refs.get(id(route))
        parents = tuple(
            RouteParentStatus(
                result.parent,
                controller_name,
                (result.accepted, refs) if refs is not None else (result.accepted,),
            )
            for result in results
        )
        routes[route.ref] = HTTPRouteStatus(route.ref, parents)
    return GatewayStatusReport(controller_name, classes, gateways, routes)
