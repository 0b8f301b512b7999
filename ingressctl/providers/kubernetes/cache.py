"""What the Kubernetes provider knows: converted objects per watch stream, and Snapshots built from them.

Pure: objects arrive as plain API JSON (already parsed), are converted once with the manifests
loader's `object_from_dict`, and every Snapshot is rebuilt whole from the cache (providers push
whole configurations, never deltas).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ingressctl.gateway.refs import certificate_secrets
from ingressctl.manifests import object_from_dict
from ingressctl.model import (
    Diagnostic,
    Endpoints,
    EndpointSlice,
    Ingress,
    IngressClass,
    Namespace,
    Secret,
    Service,
    Snapshot,
)
from ingressctl.model.gateway import Gateway, GatewayClass, HTTPRoute, ReferenceGrant
from ingressctl.providers.kubernetes.kinds import Key, Kind, key_of
from ingressctl.providers.kubernetes.resources import KubeObject

# The annotations whose value names a Secret (htpasswd users) in the Ingress's namespace.
AUTH_SECRET_ANNOTATIONS = (
    "ingress.kubernetes.io/auth-secret",
    "traefik.ingress.kubernetes.io/auth-secret",
)

# Secret types that can never be an Ingress TLS or auth secret. They are filtered out on the server
# (`fieldSelector=type!=...`): Helm release Secrets alone are often most of a cluster's Secret bytes.
IGNORED_SECRET_TYPES = (
    "helm.sh/release.v1",
    "kubernetes.io/service-account-token",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/dockercfg",
    "bootstrap.kubernetes.io/token",
)


@dataclass(frozen=True, slots=True)
class Converted:
    """An object as the manifests loader made it, under its key, with what the loader found wrong."""

    key: Key
    obj: object
    diagnostics: tuple[Diagnostic, ...]


def convert(kind: Kind, raw: KubeObject) -> Converted | None:
    """List items carry no kind/apiVersion: fill them in before handing the object to the loader.

    None: the loader could not make an object of it (its diagnostics are lost with it, as before:
    an object that is not one cannot be routed to).
    """
    doc: dict[str, object] = dict(raw)
    if doc.get("kind") != kind.kind or doc.get("apiVersion") != kind.api_version:
        doc = {**doc, "kind": kind.kind, "apiVersion": kind.api_version}
    obj, diagnostics = object_from_dict(doc)
    if obj is None:
        return None
    return Converted(key_of(raw), obj, tuple(diagnostics))


@dataclass(slots=True)
class _Entry:
    obj: object
    diagnostics: tuple[Diagnostic, ...]


@dataclass(slots=True)
class _Part:
    kind: Kind
    objects: dict[Key, _Entry] = field(default_factory=dict)
    synced: bool = False


_FIELDS = {
    "Ingress": ("ingresses", Ingress),
    "Service": ("services", Service),
    "EndpointSlice": ("endpoint_slices", EndpointSlice),
    "Endpoints": ("endpoints", Endpoints),
    "Secret": ("secrets", Secret),
    "IngressClass": ("ingress_classes", IngressClass),
    "GatewayClass": ("gateway_classes", GatewayClass),
    "Gateway": ("gateways", Gateway),
    "HTTPRoute": ("http_routes", HTTPRoute),
    "ReferenceGrant": ("reference_grants", ReferenceGrant),
    "Namespace": ("namespaces", Namespace),
}


class Cache:
    """Objects per stream. A stream is one watch (a kind, in one namespace or cluster-wide).

    Snapshots are rebuilt whole, but only the kinds that changed since the last build are sorted again:
    with thousands of objects, one Ingress changing must not cost a pass over every EndpointSlice.
    """

    def __init__(self) -> None:
        self._parts: dict[str, _Part] = {}
        self._dirty: set[str] = set(_FIELDS)
        self._built: dict[str, tuple[tuple[Any, ...], tuple[Diagnostic, ...]]] = {}

    def add_stream(self, stream: str, kind: Kind) -> None:
        self._parts.setdefault(stream, _Part(kind))
        self._dirty.add(kind.kind)

    def switch_kind(self, stream: str, kind: Kind) -> None:
        """EndpointSlices not served: the same stream now carries legacy Endpoints."""
        self._dirty.add(self._parts[stream].kind.kind)
        self._parts[stream] = _Part(kind)
        self._dirty.add(kind.kind)

    @property
    def synced(self) -> bool:
        return all(p.synced for p in self._parts.values())

    def replace(self, stream: str, items: Iterable[Converted]) -> None:
        part = self._parts[stream]
        part.objects = {c.key: _Entry(c.obj, c.diagnostics) for c in items}
        part.synced = True
        self._dirty.add(part.kind.kind)

    def upsert(self, stream: str, item: Converted) -> None:
        part = self._parts[stream]
        part.objects[item.key] = _Entry(item.obj, item.diagnostics)
        self._dirty.add(part.kind.kind)

    def remove(self, stream: str, key: Key) -> None:
        part = self._parts[stream]
        if part.objects.pop(key, None) is not None:
            self._dirty.add(part.kind.kind)

    def count(self, kind: str) -> int:
        return sum(len(p.objects) for p in self._parts.values() if p.kind.kind == kind)

    def _kind(self, kind: str) -> tuple[tuple[Any, ...], tuple[Diagnostic, ...]]:
        if kind in self._dirty or kind not in self._built:
            cls = _FIELDS[kind][1]
            entries: list[tuple[Key, _Entry]] = []
            for part in self._parts.values():
                if part.kind.kind == kind:
                    entries.extend(part.objects.items())
            entries.sort(key=lambda item: item[0])
            objects = tuple(e.obj for _, e in entries if isinstance(e.obj, cls))
            diagnostics = tuple(d for _, e in entries for d in e.diagnostics)
            self._built[kind] = (objects, diagnostics)
        return self._built[kind]

    def snapshot(self) -> tuple[Snapshot, tuple[Diagnostic, ...]]:
        fields: dict[str, tuple[Any, ...]] = {}
        diagnostics: list[Diagnostic] = []
        for kind, (name, _) in _FIELDS.items():
            objects, found = self._kind(kind)
            fields[name] = objects
            diagnostics.extend(found)
        self._dirty.clear()
        # The Secrets Gateway listeners name too (another namespace's only through a ReferenceGrant:
        # the compiler decides that; the Snapshot carries what may be needed).
        wanted = referenced_secrets(fields["ingresses"]) | certificate_secrets(fields["gateways"])
        fields["secrets"] = tuple(s for s in fields["secrets"] if (s.meta.namespace, s.meta.name) in wanted)
        return Snapshot(**fields), tuple(diagnostics)


def referenced_secrets(ingresses: Iterable[Ingress]) -> set[Key]:
    """Secrets an Ingress points at: `spec.tls[].secretName` and the auth-secret annotations."""
    wanted: set[Key] = set()
    for ing in ingresses:
        ns = ing.meta.namespace
        for tls in ing.tls:
            if tls.secret_name:
                wanted.add((ns, tls.secret_name))
        for annotation in AUTH_SECRET_ANNOTATIONS:
            name = ing.meta.annotations.get(annotation, "").strip()
            # Always the Ingress's own namespace: an Ingress must not reach into another namespace's Secrets.
            if name:
                wanted.add((ns, name))
    return wanted
