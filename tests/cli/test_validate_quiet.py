"""`validate` quiet when asked: --ignore, --min-severity, the ingressctl.io/ignore annotation,
.ingressctl.toml (found upwards), baselines, collapsed info findings, and what the summary says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run, assert_no_traceback

# Three findings of three severities: IC114 error (the host), IC302 warning (a typo of a known
# annotation), and IC204 info (the Service is not in the input), twice (two Ingresses).
MANIFEST = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations:
    traefik.ingress.kubernetes.io/rule-typ: PathPrefix
spec:
  rules:
  - host: Shop.Example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: blog
  annotations:
    ingressctl.io/ignore: IC999, nonsense
spec:
  rules:
  - host: blog.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}
"""


def _manifest(tmp_path: Path, text: str = MANIFEST) -> Path:
    path = tmp_path / "repo" / "manifests" / "shop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _json(run: Run, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, object], str]:
    result = run("validate", *args, "--format", "json", cwd=cwd)
    assert_no_traceback(result)
    return result.returncode, json.loads(result.stdout), result.stderr


def _codes(document: dict[str, object]) -> list[str]:
    findings = document["findings"]
    assert isinstance(findings, list)
    return [f["code"] for f in findings]


def test_ignore_and_min_severity_suppress_and_count(run: Run, tmp_path: Path) -> None:
    path = str(_manifest(tmp_path))
    code, document, _ = _json(run, path)
    assert code == 1 and sorted(_codes(document)) == ["IC114", "IC204", "IC204", "IC302"]
    code, document, stderr = _json(run, path, "--ignore", "IC114,ic302")
    assert code == 0 and _codes(document) == ["IC204", "IC204"]
    assert document["summary"]["suppressed"] == {"ignored code": 2}  # type: ignore[index]
    assert "2 suppressed (ignored code 2)" in stderr
    code, document, _ = _json(run, path, "--min-severity", "WARNING")
    assert code == 1 and sorted(_codes(document)) == ["IC114", "IC302"]
    assert document["summary"]["suppressed"] == {"below min-severity": 2}  # type: ignore[index]
    bad = run("validate", path, "--ignore", "IC2O4")
    assert bad.returncode == 2 and "--ignore: 'IC2O4' is not a finding code" in bad.stderr


def test_the_annotation_suppresses_on_its_object_only(run: Run, tmp_path: Path) -> None:
    text = MANIFEST.replace("ingressctl.io/ignore: IC999, nonsense", "ingressctl.io/ignore: IC204")
    code, document, stderr = _json(run, str(_manifest(tmp_path, text)))
    assert code == 1  # Ingress shop's host is still an error
    findings = document["findings"]
    assert isinstance(findings, list)
    # Ingress blog's IC204 is suppressed; Ingress shop's stays.
    assert [(f["code"], f["object"]["name"]) for f in findings if f["code"] == "IC204"] == [("IC204", "shop")]
    assert document["summary"]["suppressed"] == {"annotation": 1}  # type: ignore[index]
    assert "1 suppressed (annotation 1)" in stderr


def test_project_file_is_found_upwards_and_flags_win(run: Run, tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    repo = tmp_path / "repo"
    (repo / ".ingressctl.toml").write_text('ignore = ["IC302"]\nmin-severity = "warning"\n', encoding="utf-8")
    # Run from a subdirectory: the file two levels up applies, as ruff's and mypy's do.
    code, document, _ = _json(run, path.name, cwd=path.parent)
    assert code == 1 and _codes(document) == ["IC114"]
    assert document["summary"]["suppressed"] == {"ignored code": 1, "below min-severity": 2}  # type: ignore[index]
    _, flagged, _ = _json(run, path.name, "--min-severity", "info", "--ignore", "IC114", cwd=path.parent)
    assert _codes(flagged) == ["IC204", "IC204"]
    _, unconfigured, _ = _json(run, path.name, "--no-config", cwd=path.parent)
    assert len(_codes(unconfigured)) == 4
    (repo / ".ingressctl.toml").write_text("ignroe = []\n", encoding="utf-8")
    broken = run("validate", path.name, cwd=path.parent)
    assert broken.returncode == 2
    assert f"{repo / '.ingressctl.toml'}: unknown key 'ignroe'" in broken.stderr


def test_baseline_reports_only_new_findings(run: Run, tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    baseline = tmp_path / "baseline.json"
    written = run("validate", str(path), "--write-baseline", str(baseline))
    assert written.returncode == 0 and "wrote 4 findings to the baseline" in written.stderr
    assert json.loads(baseline.read_text())["schema"] == "ingressctl.baseline/v1"
    code, document, stderr = _json(run, str(path), "--baseline", str(baseline))
    assert code == 0 and _codes(document) == []
    assert "4 suppressed (baseline 4)" in stderr
    # A line added above the known findings moves them: still known. A new mistake is reported.
    path.write_text(
        "# a comment\n" + MANIFEST.replace("blog.example.com", "Blog.example.com"), encoding="utf-8"
    )
    code, document, _ = _json(run, str(path), "--baseline", str(baseline))
    assert code == 1
    assert [f["message"].split(": ")[1] for f in document["findings"]] == ["spec.rules[0].host"]  # type: ignore[union-attr,index]
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}", encoding="utf-8")
    refused = run("validate", str(path), "--baseline", str(garbage))
    assert refused.returncode == 2 and "not a baseline file" in refused.stderr


def test_repeated_info_findings_collapse_unless_verbose(run: Run, tmp_path: Path) -> None:
    path = str(_manifest(tmp_path))
    quiet = run("validate", path, "--ignore", "IC114,IC302")
    lines = quiet.stdout.splitlines()
    [collapsed] = [line for line in lines if "IC204" in line]
    assert collapsed.startswith("info IC204 2 times, e.g. ")
    assert collapsed.endswith("(-v lists each)")
    verbose = run("validate", path, "--ignore", "IC114,IC302", "-v")
    assert sum("IC204" in line for line in verbose.stdout.splitlines()) == 2


def test_toml_input_points_to_serve_check(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "traefik.toml"
    config.write_text('[entryPoints]\n  [entryPoints.http]\n  address = ":80"\n', encoding="utf-8")
    result = run("validate", str(config))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {config} is a TOML file: the static configuration (traefik.toml), not Kubernetes "
        f"manifests; check it with `ingressctl serve --check --config {config}`"
    ]


def test_project_file_names_the_baseline(run: Run, tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    repo = tmp_path / "repo"
    (repo / ".ingressctl.toml").write_text('baseline = "known.json"\n', encoding="utf-8")
    # The baseline the file names does not exist yet: writing it must not need it.
    written = run("validate", str(path), "--write-baseline", str(repo / "known.json"), cwd=repo)
    assert written.returncode == 0, written.stderr
    checked = run("validate", str(path), "--format", "json", cwd=repo)
    assert checked.returncode == 0 and json.loads(checked.stdout)["findings"] == []
    assert "4 suppressed (baseline 4)" in checked.stderr
    # Files before and after flags, as Typer reads them: both files are read.
    other = repo / "other.yaml"
    other.write_text(
        MANIFEST.replace("name: shop", "name: shop2").replace("name: blog", "name: blog2"), "utf-8"
    )
    intermixed = run("validate", str(path), "--format", "json", str(other), "--no-config", cwd=repo)
    # Each file's own 4 findings (the losing Ingresses keep theirs) and the 2 host/path conflicts.
    assert intermixed.returncode == 1 and len(json.loads(intermixed.stdout)["findings"]) == 10


def test_quiet_prints_only_what_fails_and_nothing_on_success(run: Run, tmp_path: Path) -> None:
    path = str(_manifest(tmp_path))
    failing = run("validate", "--quiet", path)
    assert_no_traceback(failing)
    assert failing.returncode == 1
    assert "error IC114" in failing.stdout
    assert "IC302" not in failing.stdout and "IC204" not in failing.stdout
    # The summary counts what was left out, so "0 warnings" is never a claim about the input.
    assert "1 error, 0 warnings, 0 info" in failing.stdout and "(not failing, --quiet 3)" in failing.stdout
    strict = run("validate", "-q", "--strict", path)
    assert strict.returncode == 1 and "warning IC302" in strict.stdout and "IC204" not in strict.stdout
    # Only info findings (IC204): success, and nothing at all is printed.
    clean = _manifest(
        tmp_path, MANIFEST.replace("Shop.Example.com", "shop.example.com").replace("rule-typ", "rule-type")
    )
    passing = run("validate", "--quiet", str(clean))
    assert (passing.returncode, passing.stdout, passing.stderr) == (0, "", "")
    code, document, stderr = _json(run, str(clean), "--quiet")
    assert code == 0 and _codes(document) == [] and stderr == ""
