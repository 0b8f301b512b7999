"""IC308: the same object defined twice in the input (kubectl apply keeps only the last one)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Location, ObjectMeta, ObjectRef, Severity


def _objects(ctx: LintContext) -> Iterable[tuple[ObjectRef, ObjectMeta]]:
    snapshot = ctx.snapshot
    for group in (
        snapshot.ingresses,
        snapshot.services,
        snapshot.endpoint_slices,
        snapshot.endpoints,
        snapshot.secrets,
        snapshot.ingress_classes,
    ):
        for obj in group:
            yield obj.ref, obj.meta


def check_duplicate_objects(ctx: LintContext) -> Iterator[Diagnostic]:
    first_seen: dict[ObjectRef, Location | None] = {}
    for ref, meta in _objects(ctx):
        if ref not in first_seen:
            first_seen[ref] = meta.location
            continue
        first = first_seen[ref]
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
