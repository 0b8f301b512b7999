"""Quiet when asked: findings suppressed by code, by severity, per object, or by a baseline.

Suppressed findings are not lost: they are counted per reason, and the summary says so. The
baseline matches findings by code, file, object and message (not by line: a line added above a
known finding must not make it new again); each baseline entry absorbs one finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ingressctl.model import Diagnostic, InputError, ObjectMeta, ObjectRef, Severity, Snapshot

# Per-object suppression: `ingressctl.io/ignore: IC204,IC206` on the object the finding is about.
IGNORE_ANNOTATION: Final = "ingressctl.io/ignore"
BASELINE_SCHEMA: Final = "ingressctl.baseline/v1"

# Why a finding was not reported (the keys of CheckResult.suppressed, in the order they apply).
BY_CODE: Final = "ignored code"
BY_SEVERITY: Final = "below min-severity"
BY_ANNOTATION: Final = "annotation"
BY_BASELINE: Final = "baseline"


def parse_codes(values: Iterable[str]) -> frozenset[str]:
    """`IC204,IC206` and repeated options → a set of upper-case codes; raises ValueError on a bad one."""
    codes: set[str] = set()
    for value in values:
        for part in value.replace(" ", ",").split(","):
            code = part.strip().upper()
            if not code:
                continue
            if len(code) != 5 or not code.startswith("IC") or not code[2:].isdigit():
                raise ValueError(f"{part.strip()!r} is not a finding code (they look like IC204)")
            codes.add(code)
    return frozenset(codes)


def fingerprint(finding: Diagnostic) -> str:
    """What identifies a finding across edits of unrelated lines."""
    file = finding.location.file if finding.location is not None else ""
    return "\x1f".join((finding.code, file, str(finding.object or ""), finding.message))


@dataclass(frozen=True, slots=True)
class Baseline:
    """Known findings, with how many times each was there."""

    entries: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, findings: Iterable[Diagnostic]) -> Baseline:
        return cls(dict(Counter(fingerprint(f) for f in findings)))

    @classmethod
    def parse(cls, text: str, source: str) -> Baseline:
        """Read a file written by `dump`. Raises InputError naming `source` when it is not one."""
        import json  # baselines only: validate without one starts without it (issue 18)

        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: not a baseline file (JSON error at line {exc.lineno}); "
                "write one with validate --write-baseline FILE"
            ) from exc
        if not isinstance(document, dict) or document.get("schema") != BASELINE_SCHEMA:
            raise InputError(
                f"{source}: not a baseline file (no schema {BASELINE_SCHEMA!r}); "
                "write one with validate --write-baseline FILE"
            )
        counts: Counter[str] = Counter()
        for item in document.get("findings", []):
            if not isinstance(item, dict):
                continue
            key = "\x1f".join(str(item.get(k) or "") for k in ("code", "file", "object", "message"))
            counts[key] += int(item.get("count", 1))
        return cls(dict(counts))

    def dump(self) -> str:
        """The baseline file: sorted, one entry per distinct finding, readable in a diff."""
        findings = []
        for key, count in sorted(self.entries.items()):
            code, file, obj, message = key.split("\x1f", 3)
            entry: dict[str, object] = {"code": code, "file": file, "object": obj, "message": message}
            if count != 1:
                entry["count"] = count
            findings.append(entry)
        import json

        return (
            json.dumps({"schema": BASELINE_SCHEMA, "findings": findings}, indent=2, ensure_ascii=False) + "\n"
        )


@dataclass(frozen=True, slots=True)
class Quiet:
    """What `validate` was asked not to report."""

    ignore: frozenset[str] = frozenset()
    min_severity: Severity = Severity.INFO
    baseline: Baseline | None = None

    @property
    def active(self) -> bool:
        return bool(self.ignore) or self.min_severity is not Severity.INFO or self.baseline is not None


def ignored_by_object(snapshot: Snapshot) -> dict[ObjectRef, frozenset[str]]:
    """The codes each object's `ingressctl.io/ignore` annotation suppresses (bad codes are skipped)."""
    found: dict[ObjectRef, frozenset[str]] = {}
    groups: tuple[tuple[str, Iterable[ObjectMeta]], ...] = (
        ("Ingress", (o.meta for o in snapshot.ingresses)),
        ("Service", (o.meta for o in snapshot.services)),
        ("Secret", (o.meta for o in snapshot.secrets)),
        ("EndpointSlice", (o.meta for o in snapshot.endpoint_slices)),
        ("Endpoints", (o.meta for o in snapshot.endpoints)),
        ("IngressClass", (o.meta for o in snapshot.ingress_classes)),
    )
    for kind, metas in groups:
        for meta in metas:
            value = meta.annotations.get(IGNORE_ANNOTATION)
            if not value:
                continue
            codes: set[str] = set()
            for part in value.replace(" ", ",").split(","):
                try:
                    codes |= parse_codes([part])
                except ValueError:
                    continue  # a typo in the annotation suppresses nothing
            found[ObjectRef(kind, meta.namespace, meta.name)] = frozenset(codes)
    return found


def apply(
    findings: Iterable[Diagnostic], quiet: Quiet, per_object: Mapping[ObjectRef, frozenset[str]]
) -> tuple[list[Diagnostic], dict[str, int]]:
    """The findings still reported, and how many were suppressed for each reason."""
    kept: list[Diagnostic] = []
    suppressed: Counter[str] = Counter()
    budget = Counter(quiet.baseline.entries) if quiet.baseline is not None else None
    floor = quiet.min_severity.rank
    for finding in findings:
        if finding.code in quiet.ignore:
            suppressed[BY_CODE] += 1
        elif finding.severity.rank < floor:
            suppressed[BY_SEVERITY] += 1
        elif finding.object is not None and finding.code in per_object.get(finding.object, ()):
            suppressed[BY_ANNOTATION] += 1
        elif budget is not None and budget[key := fingerprint(finding)] > 0:
            budget[key] -= 1
            suppressed[BY_BASELINE] += 1
        else:
            kept.append(finding)
    return kept, dict(suppressed)
