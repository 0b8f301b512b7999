"""Normalised Kubernetes objects: every apiVersion of a kind maps to one dataclass.

These are what providers put in a Snapshot and what the compiler reads. Values are already
typed (ports are ints or names, booleans are bools); a value the loader could not type is left
out here and reported as a Diagnostic by the loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ingressctl.model.location import Location

if TYPE_CHECKING:
    from ingressctl.model.gateway import Gateway, GatewayClass, HTTPRoute, ReferenceGrant


class PathType(str, Enum):
    EXACT = "Exact"
    PREFIX = "Prefix"
    IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """Kind, namespace and name of an object: what findings and routes point at (sortable)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """metadata: name, namespace, labels, annotations, and where the object stands in its file."""

    name: str
    namespace: str = "default"
    uid: str = ""
    resource_version: str = ""
    # RFC 3339 text as Kubernetes writes it; compared as text (it sorts chronologically).
    creation_timestamp: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = None
    # Where each annotation key stands in the file (for findings on a single annotation).
    annotation_locations: Mapping[str, Location] = field(default_factory=dict)
    # metadata.generation (bumped by the API server on spec changes; the Gateway API's
    # observedGeneration). 0 when unknown (files).
    generation: int = 0


# ---------------------------------------------------------------- Ingress


@dataclass(frozen=True, slots=True)
class IngressBackend:
    """`service: {name, port: {number|name}}` in v1, `serviceName`/`servicePort` in v1beta1."""

    service_name: str | None = None
    port_number: int | None = None
    port_name: str | None = None
    # `resource:` backends (apiGroup/kind/name) are recognised but not proxied.
    resource_kind: str | None = None
    resource_name: str | None = None
    location: Location | None = None
    port_location: Location | None = None

    @property
    def port_text(self) -> str:
        if self.port_number is not None:
            return str(self.port_number)
        return self.port_name or ""


@dataclass(frozen=True, slots=True)
class IngressPath:
    """One `http.paths[]` entry: path, pathType (None when not given) and backend."""

    path: str
    # None when pathType was absent (v1 requires it; v1beta1 defaults to ImplementationSpecific).
    path_type: PathType | None
    backend: IngressBackend
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class IngressRule:
    """One `rules[]` entry: a host (None: every host) and its paths."""

    host: str | None
    paths: tuple[IngressPath, ...] = ()
    location: Location | None = None
    host_location: Location | None = None


@dataclass(frozen=True, slots=True)
class IngressTLS:
    """One `tls[]` entry: hosts and the Secret holding their certificate."""

    hosts: tuple[str, ...] = ()
    secret_name: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Ingress:
    """A networking.k8s.io Ingress of any served apiVersion."""

    meta: ObjectMeta
    api_version: str = "networking.k8s.io/v1"
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    rules: tuple[IngressRule, ...] = ()
    tls: tuple[IngressTLS, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Ingress", self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class IngressClass:
    """An IngressClass: which controller its Ingresses belong to."""

    meta: ObjectMeta
    controller: str = ""
    # As written in the input (deprecated versions are a `validate` finding).
    api_version: str = "networking.k8s.io/v1"

    @property
    def is_default(self) -> bool:
        return self.meta.annotations.get("ingressclass.kubernetes.io/is-default-class", "") == "true"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("IngressClass", "", self.meta.name)


# ---------------------------------------------------------------- Service and endpoints


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One `spec.ports[]` entry of a Service."""

    port: int
    name: str = ""
    # int, a named container port, or None (defaults to `port`).
    target_port: int | str | None = None
    protocol: str = "TCP"
    app_protocol: str = ""  # spec.ports[].appProtocol: "kubernetes.io/h2c", "https", ...


@dataclass(frozen=True, slots=True)
class Service:
    """A core/v1 Service: its type, ports and addresses."""

    meta: ObjectMeta
    type: str = "ClusterIP"
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = ""
    external_name: str = ""

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Service", self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class EndpointPort:
    """A named port of an EndpointSlice or an Endpoints subset."""

    port: int
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One `endpoints[]` entry of an EndpointSlice: addresses and readiness."""

    addresses: tuple[str, ...]
    # Each condition may be absent (None) in the API; see design.md for how absence is read.
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None
    node_name: str = ""
    target_ref: str = ""  # "Pod ns/name" when known


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """A discovery.k8s.io EndpointSlice: endpoints of one Service."""

    meta: ObjectMeta
    service_name: str  # label kubernetes.io/service-name
    address_type: str = "IPv4"
    ports: tuple[EndpointPort, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    # As written in the input (deprecated versions are a `validate` finding).
    api_version: str = "discovery.k8s.io/v1"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("EndpointSlice", self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class EndpointSubset:
    """One `subsets[]` entry of a core/v1 Endpoints object."""

    addresses: tuple[str, ...] = ()
    not_ready_addresses: tuple[str, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Legacy core/v1 Endpoints (named like its Service); used where no EndpointSlice exists."""

    meta: ObjectMeta
    subsets: tuple[EndpointSubset, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Endpoints", self.meta.namespace, self.meta.name)


# ---------------------------------------------------------------- Secret


@dataclass(frozen=True, slots=True)
class Secret:
    """A core/v1 Secret: type and decoded data."""

    meta: ObjectMeta
    type: str = "Opaque"
    # base64-decoded `data` merged with `stringData` (encoded as UTF-8).
    data: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Secret", self.meta.namespace, self.meta.name)

    def __repr__(self) -> str:
        # Never print secret material, even in a debugger or a log line.
        return f"Secret({self.meta.namespace}/{self.meta.name}, type={self.type}, keys={sorted(self.data)})"


# ---------------------------------------------------------------- Namespace

# The label the API server puts on every Namespace (and keeps equal to its name).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A core/v1 Namespace: only its labels matter (Gateway listeners select routes' namespaces by them).

    `meta.labels` carries `kubernetes.io/metadata.name` as the API server sets it, also for a file."""

    meta: ObjectMeta

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Namespace", "", self.meta.name)


# ---------------------------------------------------------------- Snapshot


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one provider knows at one moment. Providers push whole snapshots, never deltas."""

    ingresses: tuple[Ingress, ...] = ()
    services: tuple[Service, ...] = ()
    endpoint_slices: tuple[EndpointSlice, ...] = ()
    endpoints: tuple[Endpoints, ...] = ()
    secrets: tuple[Secret, ...] = ()
    ingress_classes: tuple[IngressClass, ...] = ()
    # The Gateway API (ingressctl.model.gateway); empty unless --gateway is on.
    gateway_classes: tuple[GatewayClass, ...] = ()
    gateways: tuple[Gateway, ...] = ()
    http_routes: tuple[HTTPRoute, ...] = ()
    reference_grants: tuple[ReferenceGrant, ...] = ()
    # Namespaces (their labels): read from files, and watched with --gateway.
    namespaces: tuple[Namespace, ...] = ()
