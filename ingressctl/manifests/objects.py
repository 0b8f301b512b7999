"""One raw object (from a file or from the API) → its model object, by apiVersion and kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ingressctl.manifests.backends import (
    ENDPOINT_SLICE_VERSIONS,
    read_endpoint_slice,
    read_endpoints,
    read_service,
)
from ingressctl.manifests.codes import SEVERITIES
from ingressctl.manifests.fields import Context, Fields, type_name
from ingressctl.manifests.ingress import (
    INGRESS_CLASS_VERSIONS,
    INGRESS_VERSIONS,
    read_ingress,
    read_ingress_class,
)
from ingressctl.manifests.meta import TOP_LEVEL
from ingressctl.manifests.namespace import read_namespace
from ingressctl.manifests.positioned import FieldIndex, value_pos
from ingressctl.manifests.secret import read_secret
from ingressctl.model import Diagnostic, Location
from ingressctl.model.gateway_names import GATEWAY_VERSIONS, REFERENCE_GRANT_VERSIONS

Reader = Callable[[Fields, Context], object | None]


# The Gateway API readers load their model (~30 dataclasses) with the first such object: a file of
# Ingresses never pays for it (validate's start-up, issue 18).
def read_gateway_class(fields: Fields, context: Context) -> object | None:
    from ingressctl.manifests import gateway

    return gateway.read_gateway_class(fields, context)


def read_gateway(fields: Fields, context: Context) -> object | None:
    from ingressctl.manifests import gateway

    return gateway.read_gateway(fields, context)


def read_http_route(fields: Fields, context: Context) -> object | None:
    from ingressctl.manifests import gateway

    return gateway.read_http_route(fields, context)


def read_reference_grant(fields: Fields, context: Context) -> object | None:
    from ingressctl.manifests import gateway

    return gateway.read_reference_grant(fields, context)


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How to read one kind: its apiVersions, its reader and its known top-level keys."""

    versions: frozenset[str]
    read: Reader
    top_level: frozenset[str]


_BASE = frozenset({"apiVersion", "kind", "metadata"})
KINDS: dict[str, KindSpec] = {
    "Ingress": KindSpec(INGRESS_VERSIONS, read_ingress, TOP_LEVEL),
    "IngressClass": KindSpec(INGRESS_CLASS_VERSIONS, read_ingress_class, TOP_LEVEL),
    "Service": KindSpec(frozenset({"v1"}), read_service, TOP_LEVEL),
    "Endpoints": KindSpec(frozenset({"v1"}), read_endpoints, _BASE | {"subsets"}),
    "EndpointSlice": KindSpec(
        ENDPOINT_SLICE_VERSIONS, read_endpoint_slice, _BASE | {"addressType", "endpoints", "ports"}
    ),
    "Secret": KindSpec(frozenset({"v1"}), read_secret, _BASE | {"type", "data", "stringData", "immutable"}),
    "Namespace": KindSpec(frozenset({"v1"}), read_namespace, TOP_LEVEL),
    "GatewayClass": KindSpec(GATEWAY_VERSIONS, read_gateway_class, TOP_LEVEL),
    "Gateway": KindSpec(GATEWAY_VERSIONS, read_gateway, TOP_LEVEL),
    "HTTPRoute": KindSpec(GATEWAY_VERSIONS, read_http_route, TOP_LEVEL),
    "ReferenceGrant": KindSpec(REFERENCE_GRANT_VERSIONS, read_reference_grant, TOP_LEVEL),
}


# Kinds whose schema gains fields with new Kubernetes versions (Ingress and IngressClass are frozen).
GROWING_KINDS = frozenset({"Service", "Endpoints", "EndpointSlice", "Secret", "Namespace"})


class Normalised:
    """What reading one raw object gave.

    A plain class, not a dataclass: mypyc compiles its `__init__`, where a dataclass's is
    written in Python at import (a Python frame for every object read)."""

    def __init__(
        self,
        obj: object | None,
        diagnostics: list[Diagnostic] | None = None,
        skipped_kind: str | None = None,  # set for kinds ingressctl does not use
        index: FieldIndex | None = None,
    ) -> None:
        self.obj = obj
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.skipped_kind = skipped_kind
        self.index = index


def normalise(
    raw: Mapping[str, Any],
    origin: Location | None,
    *,
    strict: bool,
    default_kind: str | None = None,
    default_api_version: str | None = None,
) -> Normalised:
    """Read one object; `strict` also reports unknown fields (files are checked, API objects are not)."""
    kind = raw.get("kind", default_kind)
    api_version = raw.get("apiVersion", default_api_version)
    index = FieldIndex(raw, origin.file, origin) if origin is not None and origin.file else None
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str) or not api_version:
        return Normalised(None, [_not_an_object(raw, origin, kind, api_version)], index=index)
    spec = KINDS.get(kind)
    if spec is None:
        return Normalised(None, skipped_kind=kind, index=index)
    ctx = Context(kind, api_version, origin, strict=strict)
    top = Fields(ctx, raw if isinstance(raw, dict) else dict(raw), origin)
    if api_version not in spec.versions:
        _name_from(raw, ctx, kind)
        known = ", ".join(sorted(spec.versions))
        ctx.report(
            "IC107",
            top.value_loc("apiVersion"),
            f"apiVersion {api_version!r} does not serve kind {kind}",
            f"Use apiVersion {_preferred(spec.versions)} (known for {kind}: {known}).",
        )
        return Normalised(None, ctx.diags, index=index)
    top.check_known(spec.top_level, grows=kind in GROWING_KINDS)
    obj = spec.read(top, ctx)
    return Normalised(obj, ctx.diags, index=index)


def _preferred(versions: frozenset[str]) -> str:
    for candidate in ("networking.k8s.io/v1", "discovery.k8s.io/v1", "gateway.networking.k8s.io/v1", "v1"):
        if candidate in versions:
            return candidate
    return sorted(versions)[0]


def _name_from(raw: Mapping[str, Any], ctx: Context, kind: str) -> None:
    meta = raw.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("name"), str):
        namespace = meta.get("namespace")
        default = "" if kind in ("IngressClass", "GatewayClass", "Namespace") else "default"
        ctx.name_object(namespace if isinstance(namespace, str) and namespace else default, meta["name"])


def _not_an_object(
    raw: Mapping[str, Any], origin: Location | None, kind: object, api_version: object
) -> Diagnostic:
    missing = [
        name
        for name, value in (("apiVersion", api_version), ("kind", kind))
        if not isinstance(value, str) or not value
    ]
    meta = raw.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    label = f"{kind if isinstance(kind, str) and kind else 'Object'}" + (
        f" {name}" if isinstance(name, str) else ""
    )
    return Diagnostic(
        "IC108",
        SEVERITIES["IC108"],
        f"{label}: no {' and no '.join(missing)}; not a Kubernetes object",
        location=origin,
        hint="Every object starts with apiVersion and kind (e.g. apiVersion: v1, kind: Service).",
    )


def not_a_mapping(value: object, origin: Location | None) -> Diagnostic:
    return Diagnostic(
        "IC108",
        SEVERITIES["IC108"],
        f"document is {type_name(value)}, not a Kubernetes object",
        location=origin,
        hint="Each YAML document holds one object: a mapping starting with apiVersion and kind.",
    )


def list_items(raw: Mapping[str, Any]) -> Iterator[tuple[Any, int, str | None, str | None]]:
    """For `kind: List` (and typed lists such as `IngressList`): each item, its index, and its defaults.

    The API leaves kind and apiVersion out of the items of a typed list; they follow from the list.
    """
    kind = raw.get("kind")
    items = raw.get("items")
    if not isinstance(kind, str) or not kind.endswith("List") or not isinstance(items, list):
        return
    item_kind = kind[: -len("List")] or None
    api_version = raw.get("apiVersion") if item_kind else None
    for index, item in enumerate(items):
        yield item, index, item_kind, api_version if isinstance(api_version, str) else None


def is_list(raw: Mapping[str, Any]) -> bool:
    kind = raw.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(raw.get("items"), list)


def item_origin(raw: Mapping[str, Any], index: int, origin: Location | None) -> Location | None:
    items = raw.get("items")
    pos = value_pos(items, index)
    if pos is None or origin is None:
        return origin
    return Location(origin.file, pos[0], pos[1])


def object_from_dict(
    obj: Mapping[str, Any],
    location: Location | None = None,
    *,
    strict: bool = False,
    default_kind: str | None = None,
    default_api_version: str | None = None,
) -> tuple[object | None, list[Diagnostic]]:
    """One plain API object (as the Kubernetes API returns it) → Ingress/Service/...; None for other kinds.

    Unknown fields are not reported unless `strict` (the API server has validated its objects, and
    a newer server may add fields). `default_kind`/`default_api_version` fill in what the items of
    a typed list (`IngressList`) leave out.
    """
    if not isinstance(obj, Mapping):
        return None, [not_a_mapping(obj, location)]
    result = normalise(
        obj, location, strict=strict, default_kind=default_kind, default_api_version=default_api_version
    )
    return result.obj, result.diagnostics
