"""`validate` on a large input compiles in two processes (routing/split_compile.py): its findings
are those of one process, in the same order, byte for byte in the report."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generate import write_manifests
from ingressctl.checks import check, runner
from ingressctl.manifests import load_paths
from ingressctl.manifests.parallel import Claims, Worker
from ingressctl.routing import split_compile
from ingressctl.routing.options import CompileOptions

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = ROOT / "tests" / "manifests" / "fixtures" / "findings"
NOW = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)

# Ingresses and Services with something to report on every route part: a missing Service, a
# port it does not have, Service annotations that are wrong, duplicate routes and defaultBackends,
# a canary. `{i}` spreads them over the whole input, so that both processes find some.
_TROUBLE = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: trouble-{i}
  namespace: team-{ns}
  annotations:
    nginx.ingress.kubernetes.io/service-upstream: "true"
spec:
  ingressClassName: ingressctl{default}
  rules:
    - host: app-{i}.example.test
      http:
        paths:
          - {{path: /, pathType: Prefix, backend: {{service: {{name: app-{i}, port: {{number: 80}}}}}}}}
          - {{path: /gone, pathType: Prefix, backend: {{service: {{name: gone-{i}, port: {{number: 80}}}}}}}}
          - {{path: /port, pathType: Exact, backend: {{service: {{name: odd-{i}, port: {{name: nope}}}}}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: odd-{i}
  namespace: team-{ns}
  annotations:
    traefik.ingress.kubernetes.io/service.serversscheme: gopher
    traefik.ingress.kubernetes.io/service.passhostheader: maybe
    traefik.ingress.kubernetes.io/max-conn-amount: lots
spec:
  ports: [{{name: http, port: 80}}]
"""
_DEFAULT = """
  defaultBackend:
    service: {{name: gone-{i}, port: {{number: 80}}}}"""


def _large_input(directory: Path) -> Path:
    write_manifests(directory / "apps", 2_000)  # 6,000 objects, 4,000 route candidates
    trouble = directory / "trouble"
    trouble.mkdir()
    for start in range(0, 2_000, 250):
        docs = [
            _TROUBLE.format(i=i, ns=i % 20, default=_DEFAULT.format(i=i) if i in (0, 1000) else "")
            for i in range(start, start + 250, 25)
        ]
        (trouble / f"trouble-{start:04d}.yaml").write_text("---\n".join(docs))
    # An Ingress defined twice (the second with another host and a missing Service): one name, one
    # report of each problem, whichever process routes it.
    (trouble / "twice.yaml").write_text(
        _TROUBLE.format(i=1975, ns=1975 % 20, default="").replace("app-1975.example", "again.example")
    )
    shutil.copytree(FINDINGS, directory / "findings")
    for example in ("v1", "v1beta1", "ingress-nginx"):
        shutil.copytree(ROOT / "examples" / example, directory / "examples" / example)
    return directory


def test_split_compile_finds_what_one_process_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_paths([str(_large_input(tmp_path))])
    one = check(loaded, CompileOptions(), now=NOW)
    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    forks: list[int] = []

    def counted(task: object) -> object:
        forks.append(1)
        return Worker(task)  # type: ignore[arg-type]

    monkeypatch.setattr(split_compile, "Worker", counted)
    two = check(loaded, CompileOptions(), now=NOW, parallel=True, table=False)
    assert forks, "the input is large enough to compile in two processes"
    assert two.findings == one.findings
    codes = {d.code for d in one.findings}
    assert {"IC202", "IC204", "IC205", "IC240"} <= codes, sorted(codes)
    assert two.table is None and one.table is not None

    # With --require-services (every missing Service an error) too.
    strict = CompileOptions(require_services=True)
    assert check(loaded, strict, now=NOW, parallel=True, table=False).findings == (
        check(loaded, strict, now=NOW).findings
    )


def test_a_failed_worker_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_paths([str(_large_input(tmp_path))])
    one = check(loaded, CompileOptions(), now=NOW)

    class Failing:
        def __init__(self, task: object) -> None:
            pass

        def result(self) -> None:
            return None

        def cancel(self) -> None:
            pass

    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    monkeypatch.setattr(split_compile, "Worker", Failing)
    assert check(loaded, CompileOptions(), now=NOW, parallel=True, table=False).findings == one.findings


def test_validate_report_is_the_same_on_one_cpu(tmp_path: Path) -> None:
    """The whole CLI: reading, compiling and linting in several processes, and leaving without
    freeing the heap, print what one process prints."""
    directory = str(_large_input(tmp_path))
    for output_format in ("json", "text"):
        command = [sys.executable, "-m", "ingressctl", "validate", directory, "--format", output_format, "-v"]
        spread = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        pinned = subprocess.run(
            ["taskset", "-c", "0", *command], capture_output=True, text=True, timeout=300, check=False
        )
        assert spread.returncode == pinned.returncode == 1, spread.stderr[-2000:]
        assert spread.stdout == pinned.stdout
        assert spread.stderr == pinned.stderr
        assert "IC001" in spread.stdout and "trouble-1975" in spread.stdout


def test_a_worker_failing_half_way_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that takes pieces of route candidates and dies before answering: this process
    routes the pieces it took (it never took them here), and the findings are the same."""
    loaded = load_paths([str(_large_input(tmp_path))])
    one = check(loaded, CompileOptions(), now=NOW)
    real = split_compile._route_claimed
    taken = tmp_path / "taken-by-the-worker"

    def failing(compiler: object, routed: object, pieces: object, claims: Claims) -> object:
        numbers = [claims.take(), claims.take()]
        taken.write_text(" ".join(str(n) for n in numbers))
        real(compiler, routed, pieces, claims)  # type: ignore[arg-type]
        raise RuntimeError("a bug in a worker")

    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    monkeypatch.setattr(split_compile, "_route_claimed", failing)
    assert check(loaded, CompileOptions(), now=NOW, parallel=True, table=False).findings == one.findings
    assert "None" not in taken.read_text(), "the worker took pieces before failing"


def test_pieces_hold_whole_ingresses_and_every_candidate_once(tmp_path: Path) -> None:
    from ingressctl.routing.compiler import _Compiler

    loaded = load_paths([str(_large_input(tmp_path))])
    prepared = _Compiler(loaded.snapshot, CompileOptions()).prepare()
    mine, pieces = split_compile._pieces(prepared.routed, prepared.defaults)
    assert len(pieces) > 10
    every = [*mine, *(index for piece in pieces for index in piece)]
    assert sorted(every) == list(range(len(prepared.routed)))
    owner: dict[tuple[str, str], int] = {}
    for number, piece in [(-1, mine), *enumerate(pieces)]:
        for index in piece:
            name = split_compile._name(prepared.routed[index])
            assert owner.setdefault(name, number) == number, f"{name} is in two pieces"
    defaults = {split_compile._name(candidate) for candidate in prepared.defaults}
    assert defaults and all(owner[name] == -1 for name in defaults if name in owner)


def test_per_object_suppression_is_the_same_with_the_linter_forked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forked linter also reads the objects' ignore annotations: what they suppress, and the
    counts in the summary, are those of one process."""
    directory = _large_input(tmp_path)
    (directory / "ignored.yaml").write_text(
        _TROUBLE.format(i=4321, ns=1, default="").replace(
            "  annotations:\n", '  annotations:\n    ingressctl.io/ignore: "IC204, IC202"\n', 1
        )
    )
    loaded = load_paths([str(directory)])
    one = check(loaded, CompileOptions(), now=NOW)
    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    two = check(loaded, CompileOptions(), now=NOW, parallel=True, table=False)
    assert two.findings == one.findings
    assert two.suppressed == one.suppressed and one.suppressed
    assert not any(f.object and f.object.name == "trouble-4321" and f.code == "IC204" for f in two.findings)


def test_no_process_to_spare_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork() refused for the linter and the compile's second process: the same findings, found here."""
    loaded = load_paths([str(_large_input(tmp_path))])
    one = check(loaded, CompileOptions(), now=NOW)

    def refused() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(runner, "available_processes", lambda: 2)
    monkeypatch.setattr(os, "fork", refused)
    assert check(loaded, CompileOptions(), now=NOW, parallel=True, table=False).findings == one.findings
