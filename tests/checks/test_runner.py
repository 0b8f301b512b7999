"""run_checks: loader + compile + lint findings together, de-duplicated and in file order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from ingressctl.checks import check, run_checks
from ingressctl.model import Diagnostic, Location, ObjectMeta, Secret, ServicePort, Severity, Snapshot
from ingressctl.routing.options import CompileOptions
from tests.checks.builders import FILE, ingress, rule, service, tls


@dataclass
class Loaded:
    """The shape of manifests.LoadResult, filled by hand."""

    snapshot: Snapshot
    diagnostics: list[Diagnostic] = field(default_factory=list)
    skipped: Mapping[str, int] = field(default_factory=dict)
    files: Sequence[str] = (FILE,)


def test_findings_of_every_stage_are_merged_sorted_and_unique() -> None:
    parse_error = Diagnostic("IC001", Severity.ERROR, "bad YAML", Location("zzz.yaml", 2, 1))
    schema = Diagnostic("IC101", Severity.WARNING, "unknown field", Location(FILE, 50, 3))
    whole_input = Diagnostic("IC002", Severity.ERROR, "nothing to read")
    snapshot = Snapshot(
        ingresses=(
            ingress(
                rules=[rule("a.test", ("/", "web", "http"))],
                annotations={"ingress.kubernetes.io/ssl-redirct": "basic"},
                annotation_lines={"ingress.kubernetes.io/ssl-redirct": 4},
                line=1,
            ),
        ),
        services=(service("web", ServicePort(port=80)),),
    )
    loaded = Loaded(snapshot, [parse_error, schema, schema, whole_input])
    got = run_checks(loaded, CompileOptions())
    codes = [d.code for d in got]
    # The compiler's port finding, the lint explanation and the typo, plus the loader's own.
    assert {"IC001", "IC101", "IC002", "IC205", "IC305", "IC302"} <= set(codes)
    assert codes.count("IC101") == 1
    assert got[0] == whole_input  # no location: first
    assert got[-1] == parse_error  # zzz.yaml sorts last
    keys = [d.sort_key() for d in got]
    assert keys == sorted(keys)


def test_check_result_counts_documents_and_keeps_the_table() -> None:
    secret = Secret(ObjectMeta("web-tls"), type="kubernetes.io/tls", data={"tls.crt": b"x", "tls.key": b"y"})
    snapshot = Snapshot(
        ingresses=(ingress(rules=[rule("a.test")], tls=[tls("a.test")]),),
        services=(service("web"),),
        secrets=(secret,),
    )
    result = check(Loaded(snapshot, skipped={"ConfigMap": 2}), CompileOptions())
    assert result.documents == 5  # 3 objects + 2 skipped
    assert result.table is not None and result.table.hosts() == {"a.test"}
    assert result.skipped == {"ConfigMap": 2}


def test_parallel_lint_gives_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate` lints in a forked process while it compiles: the findings are those of one process."""
    from ingressctl.checks import runner

    snapshot = Snapshot(
        ingresses=tuple(
            ingress(
                name=f"app-{i}",
                rules=[rule(f"app-{i % 7}.test", ("/", "web", "http"))],
                tls=[tls(f"app-{i}.test")],
                annotations={"ingress.kubernetes.io/ssl-redirct": "basic"},
                annotation_lines={"ingress.kubernetes.io/ssl-redirct": 4},
                line=10 * i + 1,
            )
            for i in range(40)
        ),
        services=(service("web", ServicePort(port=80)),),
    )
    loaded = Loaded(snapshot)
    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    one = check(loaded, CompileOptions())
    monkeypatch.setattr(runner, "PARALLEL_LINT_OBJECTS", 1)
    two = check(loaded, CompileOptions(), parallel=True)
    assert {"IC302", "IC305"} <= {d.code for d in one.findings}
    assert two.findings == one.findings

    # A linter process that fails costs nothing but time: this process lints instead.
    monkeypatch.setattr(runner, "Worker", _FailingWorker)
    assert check(loaded, CompileOptions(), parallel=True).findings == one.findings


class _FailingWorker:
    def __init__(self, task: object) -> None:
        self.task = task

    def result(self) -> None:
        return None
