"""IC308: the same object defined twice in the input (kubectl apply keeps only the last one)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Ingress, Location, Severity
from ingressctl.model.objects import Endpoints, EndpointSlice, IngressClass, Secret, Service

_Namespaced = Ingress | Service | EndpointSlice | Endpoints | Secret


def check_duplicate_objects(ctx: LintContext) -> Iterator[Diagnostic]:
    snapshot = ctx.snapshot
    namespaced: tuple[Sequence[_Namespaced], ...] = (
        snapshot.ingresses,
        snapshot.services,
        snapshot.endpoint_slices,
        snapshot.endpoints,
        snapshot.secrets,
    )
    for group in namespaced:
        # One kind: the ref of each is (kind, namespace, name), so (namespace, name) tells them
        # apart without building a ref per object (only a duplicate's).
        yield from _duplicates([((o.meta.namespace, o.meta.name), o) for o in group])
    classes: Sequence[IngressClass] = snapshot.ingress_classes
    yield from _duplicates([(c.ref, c) for c in classes])  # cluster-scoped: the ref says how


def _duplicates(keyed: list[tuple[Hashable, _Namespaced | IngressClass]]) -> Iterator[Diagnostic]:
    first_seen: dict[Hashable, Location | None] = {}
    for key, obj in keyed:
        meta = obj.meta
        if key not in first_seen:
            first_seen[key] = meta.location
            continue
        ref = obj.ref
        first = first_seen[key]
        where = f" (first at {first})" if first is not None else ""
        yield Diagnostic(
            code="IC308",
            severity=Severity.WARNING,
            message=f"{ref} is defined more than once{where}; `kubectl apply` keeps only the last definition",
            location=meta.location,
            hint="remove or rename one of the definitions",
            object=ref,
            related=(first,) if first is not None else (),
        )
