"""Building Diagnostics about an Ingress: one place decides how a finding names its object."""

from __future__ import annotations

from collections.abc import Sequence

from ingressctl.model import Diagnostic, Ingress, Location, Severity


def finding(
    code: str,
    severity: Severity,
    ingress: Ingress,
    message: str,
    hint: str = "",
    location: Location | None = None,
    related: Sequence[Location | None] = (),
) -> Diagnostic:
    return Diagnostic(
        code=code,
        severity=severity,
        message=f"{ingress.ref}: {message}",
        location=location or ingress.meta.location,
        hint=hint,
        object=ingress.ref,
        related=tuple(loc for loc in related if loc is not None),
    )


def annotation_location(ingress: Ingress, key: str) -> Location | None:
    return ingress.meta.annotation_locations.get(key) or ingress.meta.location
