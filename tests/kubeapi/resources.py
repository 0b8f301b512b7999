"""The resources the test API server serves, and the discovery documents describing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    field_selectors: frozenset[str] = field(default=_COMMON_FIELDS)
    short_names: tuple[str, ...] = ()
    crd: bool = False  # a custom resource: the CRD schema's defaults apply on every write (`gateway`)
    categories: tuple[str, ...] = ()

    @property
    def storage(self) -> tuple[str, str]:
        """What versions of one kind share: (group, plural)."""
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def qualified(self) -> str:
        """`ingresses.networking.k8s.io` as RBAC messages name a resource; core resources are bare."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: tuple[Resource, ...] = (
    Resource("services", "Service", "", "v1", subresources=("status",), short_names=("svc",)),
    Resource("endpoints", "Endpoints", "", "v1", short_names=("ep",)),
    Resource("secrets", "Secret", "", "v1", field_selectors=_COMMON_FIELDS | frozenset({"type"})),
    Resource(
        "ingresses", "Ingress", "networking.k8s.io", "v1", subresources=("status",), short_names=("ing",)
    ),
    Resource("ingressclasses", "IngressClass", "networking.k8s.io", "v1", namespaced=False),
    Resource("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1"),
    Resource("leases", "Lease", "coordination.k8s.io", "v1"),
    # Read by `serve` to publish its node's address in Ingress status (no --publish-service/-address).
    Resource(
        "pods",
        "Pod",
        "",
        "v1",
        subresources=("status",),
        field_selectors=_COMMON_FIELDS | frozenset({"spec.nodeName", "status.phase"}),
        short_names=("po",),
    ),
    Resource("nodes", "Node", "", "v1", namespaced=False, subresources=("status",), short_names=("no",)),
    # Listed and watched by `serve --gateway` for their labels (allowedRoutes.namespaces.from: Selector).
    Resource("namespaces", "Namespace", "", "v1", namespaced=False, short_names=("ns",)),
)

# The Gateway API CRDs (standard channel); served unless the server is told they are not installed.
_GW = "gateway.networking.k8s.io"
_GW_CATEGORY = ("gateway-api",)
GATEWAY_RESOURCES: tuple[Resource, ...] = (
    Resource(
        "gatewayclasses",
        "GatewayClass",
        _GW,
        "v1",
        namespaced=False,
        subresources=("status",),
        short_names=("gc",),
        crd=True,
        categories=_GW_CATEGORY,
    ),
    Resource(
        "gateways",
        "Gateway",
        _GW,
        "v1",
        subresources=("status",),
        short_names=("gtw",),
        crd=True,
        categories=_GW_CATEGORY,
    ),
    Resource(
        "httproutes", "HTTPRoute", _GW, "v1", subresources=("status",), crd=True, categories=_GW_CATEGORY
    ),
    # v1beta1 first: `by_kind("ReferenceGrant")` (the admin API) writes through the version controllers read.
    Resource(
        "referencegrants",
        "ReferenceGrant",
        _GW,
        "v1beta1",
        short_names=("refgrant",),
        crd=True,
        categories=_GW_CATEGORY,
    ),
    Resource(
        "referencegrants",
        "ReferenceGrant",
        _GW,
        "v1",
        short_names=("refgrant",),
        crd=True,
        categories=_GW_CATEGORY,
    ),
)

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def find(group: str, version: str, plural: str, served: tuple[Resource, ...]) -> Resource | None:
    for res in served:
        if res.group == group and res.version == version and res.plural == plural:
            return res
    return None


def by_kind(kind: str, served: tuple[Resource, ...]) -> Resource:
    for res in served:
        if res.kind.lower() == kind.lower() or res.plural == kind.lower():
            return res
    raise KeyError(f"unknown kind {kind!r}")


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }


def api_group_list(served: tuple[Resource, ...]) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    for name in sorted({r.group for r in served if r.group}):
        versions = sorted({r.version for r in served if r.group == name})
        gv = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": gv, "preferredVersion": gv[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str, served: tuple[Resource, ...]) -> dict[str, Any] | None:
    members = [r for r in served if r.group == group and r.version == version]
    if not members:
        return None
    resources: list[dict[str, Any]] = []
    for r in members:
        resources.append(
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": [*VERBS, "deletecollection"],
                "shortNames": list(r.short_names),
                **({"categories": list(r.categories)} if r.categories else {}),
            }
        )
        for sub in r.subresources:
            resources.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
