"""`validate --from ingress-nginx`: what of each Ingress carries over, changes, is lost or refused.

Pure: built from the snapshot, the compile options and the findings `check()` produced. Each
annotation starts from the registry (routing/nginx_annotations.py, read from the code); a finding
of the compiler at the annotation's line (a bad value, a fail-closed refusal) then decides, so the
report says what `serve` will really do with that Ingress.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ingressctl.model import Diagnostic, Ingress, Severity, Snapshot
from ingressctl.routing.annotations_rewrites import NGINX_FORCE_SSL_REDIRECT, NGINX_SSL_REDIRECT
from ingressctl.routing.classes import ClassSelector
from ingressctl.routing.nginx_annotations import Status, nginx_status
from ingressctl.routing.nginx_defaults import default_ssl_redirect
from ingressctl.routing.options import CompileOptions


@dataclass(frozen=True, slots=True)
class AnnotationOutcome:
    key: str
    value: str
    status: Status
    detail: str
    line: int  # 0 when unknown


@dataclass(frozen=True, slots=True)
class IngressOutcome:
    ref: str  # "Ingress ns/name"
    file: str
    line: int
    served: bool
    why_not: str  # when not served: the class finding
    annotations: tuple[AnnotationOutcome, ...]
    errors: int  # error findings on this Ingress (its routes answer 503 or are not routed)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    ingresses: tuple[IngressOutcome, ...]

    def summary(self) -> dict[str, dict[str, int]]:
        """key → status → number of served Ingresses (the directory's table)."""
        table: dict[str, Counter[str]] = {}
        for ingress in self.served:
            for outcome in ingress.annotations:
                table.setdefault(outcome.key, Counter())[outcome.status.value] += 1
        return {key: dict(counts) for key, counts in sorted(table.items())}

    def totals(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for ingress in self.served:
            counts.update(outcome.status.value for outcome in ingress.annotations)
        return {status.value: counts.get(status.value, 0) for status in Status}

    @property
    def refused(self) -> bool:
        return any(o.status is Status.REFUSED for i in self.served for o in i.annotations)

    @property
    def served(self) -> tuple[IngressOutcome, ...]:
        """The Ingresses the controller would serve (the others keep their controller)."""
        return tuple(i for i in self.ingresses if i.served)


def migration_report(
    snapshot: Snapshot, options: CompileOptions, findings: Iterable[Diagnostic]
) -> MigrationReport:
    by_object: dict[str, list[Diagnostic]] = {}
    for found in findings:
        if found.object is not None:
            by_object.setdefault(str(found.object), []).append(found)
    selector = ClassSelector(snapshot.ingress_classes, options)
    out: list[IngressOutcome] = []
    for ingress in sorted(snapshot.ingresses, key=lambda i: (i.meta.namespace, i.meta.name)):
        ref = str(ingress.ref)
        mine = by_object.get(ref, [])
        not_served = selector.select(ingress)
        location = ingress.meta.location
        out.append(
            IngressOutcome(
                ref=ref,
                file=location.file if location is not None else "",
                line=location.line if location is not None else 0,
                served=not_served is None,
                why_not=not_served.message if not_served is not None else "",
                annotations=tuple(_annotations(ingress, mine, options)),
                errors=sum(1 for f in mine if f.severity is Severity.ERROR),
            )
        )
    return MigrationReport(tuple(out))


def _annotations(
    ingress: Ingress, findings: list[Diagnostic], options: CompileOptions
) -> list[AnnotationOutcome]:
    at_line: dict[int, list[Diagnostic]] = {}
    for found in findings:
        if found.location is not None:
            at_line.setdefault(found.location.line, []).append(found)
    out: list[AnnotationOutcome] = []
    for key in sorted(ingress.meta.annotations):
        status = nginx_status(key)
        if status is None:
            continue
        where = ingress.meta.annotation_locations.get(key)
        line = where.line if where is not None else 0
        state, detail = status.status, status.detail
        here = [f for f in at_line.get(line, []) if key in f.message] if line else []
        errors = [f for f in here if f.severity is Severity.ERROR]
        warnings = [f for f in here if f.severity is Severity.WARNING and f.code == "IC213"]
        if errors:
            state, detail = Status.REFUSED, _after_ref(errors[0].message)
        elif warnings and state in (Status.SUPPORTED, Status.CHANGES):
            state, detail = Status.CHANGES, _after_ref(warnings[0].message)
        out.append(AnnotationOutcome(key, ingress.meta.annotations[key], state, detail, line))
    unwritten = _default_ssl_redirect(ingress, options)
    if unwritten is not None:
        out.append(unwritten)
    return out


def _default_ssl_redirect(ingress: Ingress, options: CompileOptions) -> AnnotationOutcome | None:
    """ingress-nginx redirects TLS hosts to https unless told not to: said for an Ingress with TLS
    that does not write ssl-redirect, since that default is not ingressctl's (routing/nginx_defaults)."""
    notes = ingress.meta.annotations
    if not ingress.tls or NGINX_SSL_REDIRECT in notes or NGINX_FORCE_SSL_REDIRECT in notes:
        return None
    if default_ssl_redirect(ingress, options):
        return AnnotationOutcome(
            NGINX_SSL_REDIRECT,
            "(not written)",
            Status.SUPPORTED,
            "ingress-nginx's default (true) is kept in takeover mode: plain HTTP for the TLS hosts "
            "gets 308 to https",
            0,
        )
    return AnnotationOutcome(
        NGINX_SSL_REDIRECT,
        "(not written)",
        Status.CHANGES,
        "ingress-nginx redirects the TLS hosts to https (308) by default, ingressctl only when the "
        'annotation says "true": write it (migrate --from ingress-nginx does) or serve in takeover mode '
        "(--controller-name k8s.io/ingress-nginx)",
        0,
    )


def _after_ref(message: str) -> str:
    """A finding's message without its leading "Ingress ns/name: "."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("Ingress ") else message
