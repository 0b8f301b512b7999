"""The raw API JSON the provider reads and writes, as TypedDicts: the typed boundary with the API server.

Only the fields the provider itself reads or writes are declared. Whole objects handed on to the
manifests loader (which validates every field and reports problems as Diagnostics) stay plain
mappings there. The API server sends these as JSON, so a field may always be missing: `total=False`.
"""

from __future__ import annotations

from typing import TypedDict


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    resourceVersion: str
    uid: str
    generation: int
    labels: dict[str, str]
    annotations: dict[str, str]


# `continue` is a Python keyword: the functional form.
ListMeta = TypedDict("ListMeta", {"resourceVersion": str, "continue": str}, total=False)


class LoadBalancerIngress(TypedDict, total=False):
    ip: str
    hostname: str


class LoadBalancerStatus(TypedDict, total=False):
    ingress: list[LoadBalancerIngress]


class IngressStatus(TypedDict, total=False):
    loadBalancer: LoadBalancerStatus


class KubeObject(TypedDict, total=False):
    """Any object as listed or watched (Ingress, Service, EndpointSlice, Endpoints, Secret, IngressClass).

    `status` is declared as an Ingress's: the only status the watch reads is that of Ingresses.
    """

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    status: IngressStatus


class ObjectList(TypedDict, total=False):
    metadata: ListMeta
    items: list[KubeObject]


class StatusObject(TypedDict, total=False):
    """A `Status`: what an ERROR watch event carries (410 Gone and others)."""

    kind: str
    code: int
    reason: str
    message: str


class IngressStatusUpdate(TypedDict):
    """The body of a PUT to `ingresses/{name}/status`."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    status: IngressStatus


class ServiceSpec(TypedDict, total=False):
    type: str
    externalName: str
    externalIPs: list[str]
    clusterIP: str


class ServiceStatus(TypedDict, total=False):
    loadBalancer: LoadBalancerStatus


class ServiceObject(TypedDict, total=False):
    metadata: ObjectMeta
    spec: ServiceSpec
    status: ServiceStatus


class LeaseSpec(TypedDict, total=False):
    holderIdentity: str
    leaseDurationSeconds: int
    acquireTime: str
    renewTime: str
    leaseTransitions: int


class Lease(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: LeaseSpec


class SecretObject(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    type: str
    data: dict[str, str]


class PodSpec(TypedDict, total=False):
    nodeName: str
    hostNetwork: bool


class PodStatus(TypedDict, total=False):
    podIP: str
    hostIP: str


class Pod(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class NodeAddress(TypedDict, total=False):
    type: str  # ExternalIP, InternalIP, Hostname, ExternalDNS, InternalDNS
    address: str


class NodeStatus(TypedDict, total=False):
    addresses: list[NodeAddress]


class Node(TypedDict, total=False):
    metadata: ObjectMeta
    status: NodeStatus


# ---------------------------------------------------------------- the Gateway API's status


class ApiCondition(TypedDict, total=False):
    """A `metav1.Condition` as the Gateway API kinds carry them."""

    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


class ParentReference(TypedDict, total=False):
    group: str
    kind: str
    namespace: str
    name: str
    sectionName: str
    port: int


class RouteParentStatusDoc(TypedDict, total=False):
    parentRef: ParentReference
    controllerName: str
    conditions: list[ApiCondition]


class RouteGroupKindDoc(TypedDict, total=False):
    group: str
    kind: str


class ListenerStatusDoc(TypedDict, total=False):
    name: str
    supportedKinds: list[RouteGroupKindDoc]
    attachedRoutes: int
    conditions: list[ApiCondition]


class GatewayAddressDoc(TypedDict, total=False):
    type: str  # IPAddress or Hostname
    value: str


class GatewayApiStatus(TypedDict, total=False):
    """`status` of a GatewayClass (conditions), a Gateway (conditions, listeners, addresses) or an
    HTTPRoute (parents)."""

    conditions: list[ApiCondition]
    listeners: list[ListenerStatusDoc]
    addresses: list[GatewayAddressDoc]
    parents: list[RouteParentStatusDoc]


class GatewayApiStatusUpdate(TypedDict):
    """The body of a PUT to `{gatewayclasses,gateways,httproutes}/{name}/status`."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    status: GatewayApiStatus
