"""Namespace (core/v1) → the model: its labels, with the one the API server adds to every Namespace."""

from __future__ import annotations

import dataclasses

from ingressctl.manifests.fields import Context, Fields
from ingressctl.manifests.meta import read_meta
from ingressctl.model import Namespace
from ingressctl.model.objects import NAMESPACE_NAME_LABEL


def read_namespace(top: Fields, ctx: Context) -> Namespace | None:
    meta = read_meta(top, ctx, namespaced=False)
    if meta is None:
        return None
    # The API server sets kubernetes.io/metadata.name to the name on every write (overriding what
    # was sent): a Namespace read from a file is judged as it will be once applied.
    labels = {**meta.labels, NAMESPACE_NAME_LABEL: meta.name}
    return Namespace(dataclasses.replace(meta, labels=labels))
