"""The Kubernetes Gateway API (gateway.networking.k8s.io v1/v1beta1), normalised, and the status the
compiler computes for it.

Objects: GatewayClass, Gateway, HTTPRoute and ReferenceGrant, read by ingressctl.manifests.gateway
with the API server's defaults applied (a match without a path is PathPrefix "/", a backendRef's
weight is 1, a parentRef's group/kind are gateway.networking.k8s.io/Gateway, allowedRoutes
namespaces come from Same...). Status: what ingressctl.gateway.status computes from one compile and
the Kubernetes provider writes (by the leader only), keyed by the object's ObjectRef.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

# Re-exported: the API's names belong here too; they live apart so that options and manifest kinds
# can read them without building this module's dataclasses.
from ingressctl.model.gateway_names import DEFAULT_CONTROLLER_NAME as DEFAULT_CONTROLLER_NAME
from ingressctl.model.gateway_names import GATEWAY_VERSIONS as GATEWAY_VERSIONS
from ingressctl.model.gateway_names import GROUP as GROUP
from ingressctl.model.gateway_names import REFERENCE_GRANT_VERSIONS as REFERENCE_GRANT_VERSIONS
from ingressctl.model.location import Location
from ingressctl.model.objects import ObjectMeta, ObjectRef

# ---------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class ParentRef:
    """spec.parentRefs[]: group/kind default to gateway.networking.k8s.io/Gateway; namespace None
    means the route's own namespace."""

    name: str
    group: str = GROUP
    kind: str = "Gateway"
    namespace: str | None = None
    section_name: str | None = None
    port: int | None = None
    location: Location | None = None

    def namespace_or(self, own: str) -> str:
        return self.namespace or own

    def describe(self, own_namespace: str) -> str:
        text = f"{self.kind} {self.namespace_or(own_namespace)}/{self.name}"
        if self.section_name:
            text += f" section {self.section_name}"
        if self.port is not None:
            text += f" port {self.port}"
        return text


@dataclass(frozen=True, slots=True)
class BackendRef:
    """A backendRef (or a mirror's backendRef): group "" and kind Service by default; weight 1."""

    name: str
    group: str = ""
    kind: str = "Service"
    namespace: str | None = None
    port: int | None = None
    weight: int = 1
    filters: tuple[HTTPRouteFilter, ...] = ()
    location: Location | None = None

    def namespace_or(self, own: str) -> str:
        return self.namespace or own

    @property
    def is_service(self) -> bool:
        return self.group in ("", "core") and self.kind == "Service"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A listener's tls.certificateRefs[]: group "" and kind Secret by default."""

    name: str
    group: str = ""
    kind: str = "Secret"
    namespace: str | None = None
    location: Location | None = None


# ---------------------------------------------------------------- GatewayClass


@dataclass(frozen=True, slots=True)
class GatewayClass:
    meta: ObjectMeta
    controller_name: str
    description: str = ""
    api_version: str = f"{GROUP}/v1"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("GatewayClass", "", self.meta.name)


# ---------------------------------------------------------------- Gateway


class FromNamespaces(str, Enum):
    SAME = "Same"
    ALL = "All"
    SELECTOR = "Selector"


@dataclass(frozen=True, slots=True)
class SelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and (not present or labels[req.key] not in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RouteGroupKind:
    kind: str
    group: str = GROUP


@dataclass(frozen=True, slots=True)
class AllowedRoutes:
    namespaces_from: FromNamespaces = FromNamespaces.SAME
    selector: LabelSelector | None = None
    kinds: tuple[RouteGroupKind, ...] = ()  # empty: the kinds the listener's protocol supports
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class ListenerTLS:
    mode: str = "Terminate"  # Terminate or Passthrough
    certificate_refs: tuple[SecretRef, ...] = ()
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    port: int
    protocol: str  # HTTP and HTTPS are served; TLS, TCP, UDP are reported as unsupported
    hostname: str | None = None
    tls: ListenerTLS | None = None
    allowed_routes: AllowedRoutes = field(default_factory=AllowedRoutes)
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Gateway:
    meta: ObjectMeta
    gateway_class_name: str
    listeners: tuple[Listener, ...] = ()
    # spec.addresses values as written (ingressctl publishes its own address; these are reported).
    addresses: tuple[str, ...] = ()
    api_version: str = f"{GROUP}/v1"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Gateway", self.meta.namespace, self.meta.name)


# ---------------------------------------------------------------- HTTPRoute


class PathMatchType(str, Enum):
    EXACT = "Exact"
    PATH_PREFIX = "PathPrefix"
    REGULAR_EXPRESSION = "RegularExpression"


class ValueMatchType(str, Enum):
    EXACT = "Exact"
    REGULAR_EXPRESSION = "RegularExpression"


@dataclass(frozen=True, slots=True)
class PathMatch:
    type: PathMatchType = PathMatchType.PATH_PREFIX
    value: str = "/"


@dataclass(frozen=True, slots=True)
class ValueMatch:
    """A header or query parameter match: header names compare case-insensitively, query names exactly."""

    name: str
    value: str
    type: ValueMatchType = ValueMatchType.EXACT


@dataclass(frozen=True, slots=True)
class HTTPRouteMatch:
    path: PathMatch = field(default_factory=PathMatch)
    headers: tuple[ValueMatch, ...] = ()
    query_params: tuple[ValueMatch, ...] = ()
    method: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class HeaderModifier:
    """RequestHeaderModifier / ResponseHeaderModifier: set (replace), add (append), remove."""

    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


class PathModifierType(str, Enum):
    REPLACE_FULL_PATH = "ReplaceFullPath"
    REPLACE_PREFIX_MATCH = "ReplacePrefixMatch"


@dataclass(frozen=True, slots=True)
class PathModifier:
    type: PathModifierType
    value: str


@dataclass(frozen=True, slots=True)
class RequestRedirect:
    scheme: str | None = None
    hostname: str | None = None
    path: PathModifier | None = None
    port: int | None = None
    status_code: int = 302


@dataclass(frozen=True, slots=True)
class URLRewrite:
    hostname: str | None = None
    path: PathModifier | None = None


@dataclass(frozen=True, slots=True)
class RequestMirror:
    backend_ref: BackendRef
    percent: int | None = None  # None: every request (fraction folded into percent when given)


class FilterType(str, Enum):
    REQUEST_HEADER_MODIFIER = "RequestHeaderModifier"
    RESPONSE_HEADER_MODIFIER = "ResponseHeaderModifier"
    REQUEST_REDIRECT = "RequestRedirect"
    URL_REWRITE = "URLRewrite"
    REQUEST_MIRROR = "RequestMirror"
    EXTENSION_REF = "ExtensionRef"
    CORS = "CORS"
    EXTERNAL_AUTH = "ExternalAuth"


@dataclass(frozen=True, slots=True)
class HTTPRouteFilter:
    type: FilterType
    request_header_modifier: HeaderModifier | None = None
    response_header_modifier: HeaderModifier | None = None
    request_redirect: RequestRedirect | None = None
    url_rewrite: URLRewrite | None = None
    request_mirror: RequestMirror | None = None
    extension_ref: str = ""  # "group/kind/name" of an ExtensionRef (not supported: fails closed)
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class HTTPRouteRule:
    matches: tuple[HTTPRouteMatch, ...] = (HTTPRouteMatch(),)
    filters: tuple[HTTPRouteFilter, ...] = ()
    backend_refs: tuple[BackendRef, ...] = ()
    name: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class HTTPRoute:
    meta: ObjectMeta
    parent_refs: tuple[ParentRef, ...] = ()
    hostnames: tuple[str, ...] = ()
    rules: tuple[HTTPRouteRule, ...] = (HTTPRouteRule(),)
    api_version: str = f"{GROUP}/v1"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("HTTPRoute", self.meta.namespace, self.meta.name)


# ---------------------------------------------------------------- ReferenceGrant


@dataclass(frozen=True, slots=True)
class GrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True, slots=True)
class GrantTo:
    group: str
    kind: str
    name: str | None = None  # None: every object of the kind


@dataclass(frozen=True, slots=True)
class ReferenceGrant:
    meta: ObjectMeta
    from_: tuple[GrantFrom, ...] = ()
    to: tuple[GrantTo, ...] = ()
    api_version: str = f"{GROUP}/v1beta1"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("ReferenceGrant", self.meta.namespace, self.meta.name)

    def permits(self, from_group: str, from_kind: str, from_namespace: str, to: GrantTo) -> bool:
        """Whether this grant (in the target's namespace) lets an object of (group, kind, namespace)
        refer to `to` (whose name is set)."""
        if not any(
            f.group == from_group and f.kind == from_kind and f.namespace == from_namespace
            for f in self.from_
        ):
            return False
        return any(
            _same_group(t.group, to.group) and t.kind == to.kind and (t.name is None or t.name == to.name)
            for t in self.to
        )


def _same_group(a: str, b: str) -> bool:
    return (a or "core") == (b or "core")


# ---------------------------------------------------------------- status


class ConditionStatus(str, Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Condition:
    type: str  # Accepted, Programmed, ResolvedRefs, Conflicted, ...
    status: ConditionStatus
    reason: str
    message: str = ""
    observed_generation: int = 0

    @property
    def ok(self) -> bool:
        return self.status is ConditionStatus.TRUE


@dataclass(frozen=True, slots=True)
class GatewayClassStatus:
    ref: ObjectRef
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    name: str
    attached_routes: int = 0
    conditions: tuple[Condition, ...] = ()
    supported_kinds: tuple[RouteGroupKind, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    ref: ObjectRef
    conditions: tuple[Condition, ...] = ()
    listeners: tuple[ListenerStatus, ...] = ()
    # status.addresses: left empty by the compiler; the Kubernetes provider publishes its address
    # as it does for Ingresses.
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteParentStatus:
    parent_ref: ParentRef
    controller_name: str
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class HTTPRouteStatus:
    ref: ObjectRef
    parents: tuple[RouteParentStatus, ...] = ()


@dataclass(frozen=True, slots=True)
class GatewayStatusReport:
    """The status of every Gateway API object ingressctl is responsible for, from one compile.

    Objects of other controllers (GatewayClasses that are not ours, Gateways of such classes, routes
    whose parents are all someone else's) have no entry: their status is not ours to write.
    """

    controller_name: str = DEFAULT_CONTROLLER_NAME
    gateway_classes: Mapping[ObjectRef, GatewayClassStatus] = field(default_factory=dict)
    gateways: Mapping[ObjectRef, GatewayStatus] = field(default_factory=dict)
    http_routes: Mapping[ObjectRef, HTTPRouteStatus] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.gateway_classes or self.gateways or self.http_routes)


EMPTY_STATUS_REPORT = GatewayStatusReport()
