"""metadata → ObjectMeta, shared by every kind."""

from __future__ import annotations

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


def read_meta(top: Fields, ctx: Context, *, namespaced: bool = True) -> ObjectMeta | None:
    """ObjectMeta, or None when the object has no usable name (already reported)."""
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
    labels, _ = meta.string_map("labels")
    annotations, annotation_locations = meta.string_map("annotations")
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
    )
