"""metadata → ObjectMeta, shared by every kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingressctl.manifests import apirules
from ingressctl.manifests.fields import Context, Fields, keys_at, only_known
from ingressctl.manifests.positioned import PosDict
from ingressctl.model import Location, ObjectMeta, builders

TOP_LEVEL = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})

METADATA_FIELDS = frozenset(
    {
        "name",
        "namespace",
        "labels",
        "annotations",
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "generateName",
        "finalizers",
        "ownerReferences",
        "managedFields",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "clusterName",
    }
)


def read_meta(
    top: Fields, ctx: Context, *, namespaced: bool = True, api_rules: bool = False
) -> ObjectMeta | None:
    """ObjectMeta, or None when the object has no usable name (already reported).

    api_rules: also report (IC114) the name, namespace, labels and annotations the API server refuses.
    """
    plain = _plain_meta(top, ctx, namespaced, api_rules)
    if plain is not None:
        return plain
    meta = top.mapping("metadata", required="Every object needs metadata with at least a name.")
    if meta is None:
        return None
    meta.check_known(METADATA_FIELDS)
    name = meta.string("name", required="Give the object a name under metadata.", allow_empty=False)
    # An empty namespace means the default one, as kubectl reads it.
    namespace = meta.string("namespace") if namespaced else None
    namespace = (namespace or "default") if namespaced else ""
    if name is None:
        return None
    ctx.name_object(namespace, name)
    labels, _ = meta.string_map("labels", locations=False)
    annotations, annotation_locations = meta.string_map("annotations")
    if api_rules:
        _check_meta(meta, name, namespace if meta.has("namespace") else None, labels, annotations)
    return ObjectMeta(
        name=name,
        namespace=namespace,
        uid=meta.string("uid") or "",
        resource_version=meta.string("resourceVersion") or "",
        creation_timestamp=meta.string("creationTimestamp") or "",
        labels=labels,
        annotations=annotations,
        location=top.location,
        annotation_locations=annotation_locations,
        generation=_generation(meta.raw),
    )


def _plain_meta(top: Fields, ctx: Context, namespaced: bool, api_rules: bool) -> ObjectMeta | None:
    """The metadata nearly every object of a file has, read without a Fields per mapping: known
    keys, a name, string labels and annotations, everything the API's rules accept.

    None for anything else (a missing name, a wrong type, a value refused, an object not read from
    a file): `read_meta` reads it, with its findings. For this shape it would report nothing and
    build the same ObjectMeta.
    """
    raw = top.raw.get("metadata")
    file = ctx.file
    if type(raw) is not PosDict or not file or not only_known(METADATA_FIELDS, raw):
        return None
    name = raw.get("name")
    if type(name) is not str or not name:
        return None
    namespace = ""
    if namespaced:
        given = raw.get("namespace")
        if given is not None and type(given) is not str:
            return None
        namespace = given or "default"
        # As _check_meta: a namespace written (even empty: "default") must be a DNS label.
        if api_rules and given is not None and apirules.dns1123_label(namespace):
            return None
    labels = _plain_strings(raw.get("labels"))
    annotations = _plain_strings(raw.get("annotations"))
    if labels is None or annotations is None:
        return None
    where: dict[str, Location] = {}
    if annotations:
        annotation_keys_at = keys_at(raw["annotations"])
        for key in annotations:
            packed = annotation_keys_at.get(key)
            if packed is None:
                return None
            where[key] = builders.location(file, packed >> 32, packed & 0xFFFFFFFF)
    if api_rules and not _accepted(name, labels, annotations):
        return None
    uid = raw.get("uid")
    resource_version = raw.get("resourceVersion")
    created = raw.get("creationTimestamp")
    if any(value is not None and type(value) is not str for value in (uid, resource_version, created)):
        return None
    ctx.name_object(namespace, name)
    # Positional (the fields in order): keywords cost as much as building the object.
    return builders.object_meta(
        name,
        namespace,
        uid or "",
        resource_version or "",
        created or "",  # creation_timestamp
        labels,
        annotations,
        top.location,
        where,  # annotation_locations
        _generation(raw),
    )


def _plain_strings(value: object) -> dict[str, str] | None:
    """A map of strings as `Fields.string_map` reads it (null values are ""), or None when it
    would report something."""
    if value is None:
        return {}
    if type(value) is not PosDict:
        return None
    out: dict[str, str] = {}
    for key, text in value.items():
        if text is None:
            text = ""
        elif type(text) is not str:
            return None
        out[key] = text
    return out


def _accepted(name: str, labels: dict[str, str], annotations: dict[str, str]) -> bool:
    """Whether `_check_meta` would find nothing (the namespace is checked by the caller)."""
    if apirules.dns1123_subdomain(name):
        return False
    for key, value in labels.items():
        if apirules.qualified_name(key) or apirules.label_value(value):
            return False
    if any(apirules.annotation_key(key) for key in annotations):
        return False
    return not apirules.annotations_size(annotations)


def _generation(meta: Mapping[str, Any]) -> int:
    value = meta.get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _check_meta(
    meta: Fields, name: str, namespace: str | None, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    """What the API server's ValidateObjectMeta refuses (see apirules), as IC114 findings."""
    refusals: list[tuple[Fields, str, object, list[str], str]] = [
        (meta, "name", name, apirules.dns1123_subdomain(name), _NAME_HINT),
    ]
    if namespace is not None:
        refusals.append((meta, "namespace", namespace, apirules.dns1123_label(namespace), _NAMESPACE_HINT))
    label_fields = meta.mapping("labels") if labels else None
    if label_fields is not None:
        for key, value in labels.items():
            refusals.append((label_fields, key, key, apirules.qualified_name(key), _KEY_HINT))
            refusals.append((label_fields, key, value, apirules.label_value(value), _LABEL_VALUE_HINT))
    annotation_fields = meta.mapping("annotations") if annotations else None
    if annotation_fields is not None:
        for key in annotations:
            refusals.append((annotation_fields, key, key, apirules.annotation_key(key), _KEY_HINT))
        size = apirules.annotations_size(annotations)
        if size:
            refusals.append((meta, "annotations", "(all of them)", size, _SIZE_HINT))
    _report(meta, refusals)


def _report(meta: Fields, refusals: list[tuple[Fields, str, object, list[str], str]]) -> None:
    for fields, key, value, errors, hint in refusals:
        if errors:
            where = fields.key_loc(key) if fields is not meta else fields.value_loc(key)
            meta.ctx.report(
                "IC114",
                where,
                f"{fields.sub(key)}: {value!r} {'; '.join(errors)}; the API server refuses this object",
                hint,
            )


_NAME_HINT = (
    "A name is a lower-case DNS subdomain: letters, digits, '-' and '.', starting and ending with a "
    "letter or digit (my-ingress, not My_Ingress)."
)
_NAMESPACE_HINT = "A namespace is a lower-case DNS label: letters, digits and '-', at most 63 characters."
_KEY_HINT = (
    "A key is [prefix/]name: a DNS-subdomain prefix, and a name of at most 63 letters, digits, '-', '_', '.'."
)
_LABEL_VALUE_HINT = (
    "A label value is at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or "
    "digit; put longer text in an annotation."
)
_SIZE_HINT = "Keep large data out of annotations (a ConfigMap holds it)."
