"""metadata → ObjectMeta, shared by every kind."""

from __future__ import annotations

from ingressctl.manifests import apirules
from ingressctl.manifests.fields import Context, Fields
from ingressctl.model import ObjectMeta

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
        generation=_generation(meta),
    )


def _generation(meta: Fields) -> int:
    value = meta.raw.get("generation")
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
