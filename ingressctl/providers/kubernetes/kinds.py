"""The resources the provider lists and watches, and how objects and scopes are named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingressctl.providers.kubernetes.resources import KubeObject

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds


@dataclass(frozen=True, slots=True)
class Kind:
    """A resource the provider lists and watches."""

    kind: str
    api_version: str
    plural: str
    group: str
    namespaced: bool = True
    custom: bool = False  # a custom resource (served by CRDs that may not be installed): CustomObjectsApi
    # Refused (403) before its first LIST, it counts as empty: the rest must not wait for it.
    optional: bool = False

    @property
    def may_be_refused(self) -> bool:
        return self.custom or self.optional

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


INGRESS = Kind("Ingress", "networking.k8s.io/v1", "ingresses", "networking.k8s.io")
INGRESS_CLASS = Kind("IngressClass", "networking.k8s.io/v1", "ingressclasses", "networking.k8s.io", False)
SERVICE = Kind("Service", "v1", "services", "")
ENDPOINT_SLICE = Kind("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", "discovery.k8s.io")
ENDPOINTS = Kind("Endpoints", "v1", "endpoints", "")
SECRET = Kind("Secret", "v1", "secrets", "")
# Their labels decide Gateway listeners' `allowedRoutes.namespaces.from: Selector` (`--gateway` only).
NAMESPACE = Kind("Namespace", "v1", "namespaces", "", namespaced=False, optional=True)

# The Gateway API (`--gateway`): custom resources, watched only when the provider is told to.
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_CLASS = Kind("GatewayClass", f"{GATEWAY_GROUP}/v1", "gatewayclasses", GATEWAY_GROUP, False, True)
GATEWAY = Kind("Gateway", f"{GATEWAY_GROUP}/v1", "gateways", GATEWAY_GROUP, custom=True)
HTTP_ROUTE = Kind("HTTPRoute", f"{GATEWAY_GROUP}/v1", "httproutes", GATEWAY_GROUP, custom=True)
REFERENCE_GRANT = Kind(
    "ReferenceGrant", f"{GATEWAY_GROUP}/v1beta1", "referencegrants", GATEWAY_GROUP, custom=True
)
# The kinds whose status the leader writes (their watch remembers each object's status and version).
STATUS_KINDS = (GATEWAY_CLASS, GATEWAY, HTTP_ROUTE)


def key_of(obj: KubeObject | Mapping[str, object]) -> Key:
    meta = obj.get("metadata") or {}
    if not isinstance(meta, Mapping):
        return ("", "")
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def describe_scope(kind: Kind, namespace: str | None) -> str:
    """What a list or watch covers, for messages: "ingresses.networking.k8s.io in namespace web"."""
    if not kind.namespaced:
        return kind.qualified
    if namespace:
        return f"{kind.qualified} in namespace {namespace}"
    return f"{kind.qualified} at the cluster scope"
