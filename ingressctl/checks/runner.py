"""`run_checks`: loader findings + compile findings + lint findings, de-duplicated and sorted."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingressctl.checks.context import LintContext
from ingressctl.checks.lint import RULES
from ingressctl.model import Diagnostic, Severity, Snapshot
from ingressctl.routing import RoutingTable, compile
from ingressctl.routing.options import CompileOptions


class LoadResultLike(Protocol):
    """What `ingressctl.manifests.load_paths` returns (only the parts checks read)."""

    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def diagnostics(self) -> Sequence[Diagnostic]: ...

    @property
    def skipped(self) -> Mapping[str, int]: ...

    @property
    def files(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything `validate` reports: the findings and what was read."""

    findings: tuple[Diagnostic, ...]
    files: tuple[str, ...] = ()
    documents: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    table: RoutingTable | None = None
    # What was read when it was not files (e.g. "the cluster at https://10.0.0.1:6443"); "" for files.
    origin: str = ""

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def lint(
    snapshot: Snapshot, options: CompileOptions, *, now: datetime.datetime | None = None
) -> list[Diagnostic]:
    """The IC3xx findings of `snapshot` (pure; no compiling). `now` enables certificate expiry checks."""
    ctx = LintContext(snapshot, options, now)
    return [finding for rule in RULES for finding in rule(ctx)]


def _ordered(findings: Iterable[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[object, ...]] = set()
    unique: list[Diagnostic] = []
    for finding in findings:
        key = (finding.code, finding.severity, finding.message, finding.location)
        if key in seen:
            continue
        seen.add(key)
        unique.append(finding)
    # Findings without a location (whole-input problems) come first; then file:line:col, code, text.
    return sorted(unique, key=lambda d: (*d.sort_key(), d.message))


def _document_count(load_result: LoadResultLike) -> int:
    counted = getattr(load_result, "documents", None)
    if isinstance(counted, int):
        return counted
    snapshot = load_result.snapshot
    objects = (
        len(snapshot.ingresses)
        + len(snapshot.services)
        + len(snapshot.endpoint_slices)
        + len(snapshot.endpoints)
        + len(snapshot.secrets)
        + len(snapshot.ingress_classes)
    )
    return objects + sum(load_result.skipped.values())


def check(
    load_result: LoadResultLike, options: CompileOptions, *, now: datetime.datetime | None = None
) -> CheckResult:
    """Compile and lint what was loaded; the result carries the routing table for `routes`."""
    table, compile_findings = compile(load_result.snapshot, options)
    findings = _ordered(
        [*load_result.diagnostics, *compile_findings, *lint(load_result.snapshot, options, now=now)]
    )
    return CheckResult(
        findings=tuple(findings),
        files=tuple(load_result.files),
        documents=_document_count(load_result),
        skipped=dict(load_result.skipped),
        table=table,
    )


def run_checks(
    load_result: LoadResultLike, options: CompileOptions, *, now: datetime.datetime | None = None
) -> list[Diagnostic]:
    """Loader findings + compile findings + lint findings, de-duplicated, sorted by file:line:col."""
    return list(check(load_result, options, now=now).findings)
