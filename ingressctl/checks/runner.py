"""`run_checks`: loader findings + compile findings + lint findings, de-duplicated and sorted."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from ingressctl.checks.context import LintContext
from ingressctl.checks.lint import RULES
from ingressctl.checks.quiet import Quiet, apply, ignored_by_object
from ingressctl.manifests.parallel import Worker, available_processes
from ingressctl.model import Diagnostic, ObjectRef, Severity, Snapshot
from ingressctl.routing import CompileCache, RoutingTable, compile, split_compile
from ingressctl.routing.options import CompileOptions

# Below this, forking costs more than linting takes (lint is about 10 µs per object).
PARALLEL_LINT_OBJECTS = 5_000


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
    # Findings not reported, per reason (see checks.quiet): the summary counts them.
    suppressed: Mapping[str, int] = field(default_factory=dict)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def lint(
    snapshot: Snapshot, options: CompileOptions, *, now: datetime.datetime | None = None
) -> list[Diagnostic]:
    """The IC3xx findings of `snapshot` (pure; no compiling). `now` enables certificate expiry checks."""
    ctx = LintContext(snapshot, options, now)
    return [finding for rule in RULES for finding in rule(ctx)]


def _lint_and_ignored(
    snapshot: Snapshot, options: CompileOptions, now: datetime.datetime | None
) -> tuple[list[Diagnostic], dict[ObjectRef, frozenset[str]]]:
    """The linter's task: the lint findings, and what each object's ignore annotation suppresses
    (both walk every object; in the linter they run beside `prepare` instead of after it)."""
    return lint(snapshot, options, now=now), ignored_by_object(snapshot)


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


# A host the API server refuses (IC114, on every Ingress) is also one the compiler skips (IC216, on
# ours): one mistake, one finding, the one that says why kubectl would fail.
_RESTATED = {"IC216": "IC114"}


def _without_restated(loaded: Sequence[Diagnostic], compiled: list[Diagnostic]) -> list[Diagnostic]:
    refused = {(d.code, d.object, d.location) for d in loaded if d.code in _RESTATED.values()}
    if not refused:
        return compiled
    return [
        d
        for d in compiled
        if d.code not in _RESTATED or (_RESTATED[d.code], d.object, d.location) not in refused
    ]


def _objects(snapshot: Snapshot) -> int:
    return (
        len(snapshot.ingresses)
        + len(snapshot.services)
        + len(snapshot.endpoint_slices)
        + len(snapshot.endpoints)
        + len(snapshot.secrets)
        + len(snapshot.ingress_classes)
    )


def _document_count(load_result: LoadResultLike) -> int:
    counted = getattr(load_result, "documents", None)
    if isinstance(counted, int):
        return counted
    return _objects(load_result.snapshot) + sum(load_result.skipped.values())


def check(
    load_result: LoadResultLike,
    options: CompileOptions,
    *,
    now: datetime.datetime | None = None,
    parallel: bool = False,
    cache: CompileCache | None = None,
    table: bool = True,
) -> CheckResult:
    """Compile and lint what was loaded; the result carries the routing table for `routes`.

    `parallel` lints a large snapshot in a forked process while this one compiles (same result);
    only for single-threaded programs (the CLI), as for `load_paths`; without `table` (validate
    reports findings only) it also compiles in two processes (routing/split_compile.py).
    `cache`: see CompileCache (a watch that checks one cluster change after another). Findings an object's
    `ingressctl.io/ignore` annotation names are not reported (they are counted in `suppressed`).
    """
    snapshot = load_result.snapshot
    linter = None
    if parallel and _objects(snapshot) >= PARALLEL_LINT_OBJECTS and available_processes() > 1:
        linter = Worker(partial(_lint_and_ignored, snapshot, options, now))
    routing_table: RoutingTable | None = None
    try:
        if table or not linter:
            routing_table, compile_findings = compile(snapshot, options, cache)
        else:
            compile_findings = split_compile.compile_findings(snapshot, options, parallel=True)
    except BaseException:
        if linter is not None:
            linter.cancel()
        raise
    linted = linter.result() if linter is not None else None
    if linted is None:  # no worker, or it failed: lint here (same findings, or the same error)
        linted = _lint_and_ignored(snapshot, options, now)
    lint_findings, per_object = linted
    compile_findings = _without_restated(load_result.diagnostics, compile_findings)
    findings = _ordered([*load_result.diagnostics, *compile_findings, *lint_findings])
    suppressed: dict[str, int] = {}
    if per_object:
        findings, suppressed = apply(findings, Quiet(), per_object)
    return CheckResult(
        findings=tuple(findings),
        suppressed=suppressed,
        files=tuple(load_result.files),
        documents=_document_count(load_result),
        skipped=dict(load_result.skipped),
        table=routing_table,
    )


def run_checks(
    load_result: LoadResultLike, options: CompileOptions, *, now: datetime.datetime | None = None
) -> list[Diagnostic]:
    """Loader findings + compile findings + lint findings, de-duplicated, sorted by file:line:col."""
    return list(check(load_result, options, now=now).findings)
