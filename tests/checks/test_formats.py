"""Every output format on a hand-built CheckResult: exact structure, escaping, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingressctl.checks import CheckResult
from ingressctl.checks.codes import CODES, all_codes, describe, help_uri, markdown
from ingressctl.checks.formats import FORMATS, get_format, summary_line
from ingressctl.checks.formats.github import escape_data, escape_property
from ingressctl.model import Diagnostic, Location, ObjectRef, Severity

WEB = ObjectRef("Ingress", "default", "web")


def result() -> CheckResult:
    return CheckResult(
        findings=(
            Diagnostic(
                "IC001", Severity.ERROR, "cannot parse YAML", Location("a.yaml", 3, 7), hint="fix the indent"
            ),
            Diagnostic(
                "IC306",
                Severity.WARNING,
                "Ingress default/web: two secrets, 100% sure",
                Location("a.yaml", 9, 1),
                hint="use one: a, b",
                object=WEB,
                related=(Location("b.yaml", 2, 3),),
            ),
            Diagnostic("IC305", Severity.INFO, "port explained", Location("b.yaml", 5, 0)),
        ),
        files=("a.yaml", "b.yaml"),
        documents=4,
        skipped={"ConfigMap": 1, "Deployment": 2},
    )


def test_summary_line_counts_and_pluralises() -> None:
    assert summary_line(result()) == "1 error, 1 warning, 1 info in 2 files (4 documents, 3 skipped objects)"
    empty = CheckResult(findings=(), files=("x.yaml",), documents=1)
    assert summary_line(empty) == "0 errors, 0 warnings, 0 info in 1 file (1 document, 0 skipped objects)"


def test_text_groups_per_file_with_hints_and_summary() -> None:
    text = get_format("text").render(result())
    lines = text.splitlines()
    assert lines[0] == "a.yaml"
    assert lines[1] == "a.yaml:3:7: error IC001 cannot parse YAML"
    assert lines[2] == "  hint: fix the indent"
    assert lines[3] == "a.yaml:9:1: warning IC306 Ingress default/web: two secrets, 100% sure"
    assert lines[4] == "  hint: use one: a, b"
    assert lines[5] == "  see: b.yaml:2:3"
    assert lines[6] == ""
    assert lines[7] == "b.yaml"
    assert lines[8] == "b.yaml:5:1: info IC305 port explained"
    assert lines[-1] == summary_line(result())
    assert "\x1b[" not in text
    assert "\x1b[" in get_format("text").render(result(), color=True)


def test_json_document_has_stable_keys() -> None:
    document = json.loads(get_format("json").render(result()))
    assert list(document) == ["schema", "summary", "findings"]
    assert document["schema"] == "ingressctl.validate/v1"
    assert document["summary"] == {
        "errors": 1,
        "warnings": 1,
        "info": 1,
        "files": 2,
        "documents": 4,
        "skipped": {"ConfigMap": 1, "Deployment": 2},
        "suppressed": {},
    }
    first, second, third = document["findings"]
    assert list(first) == [
        "code",
        "severity",
        "file",
        "line",
        "column",
        "message",
        "hint",
        "object",
        "related",
    ]
    assert first == {
        "code": "IC001",
        "severity": "error",
        "file": "a.yaml",
        "line": 3,
        "column": 7,
        "message": "cannot parse YAML",
        "hint": "fix the indent",
        "object": None,
        "related": [],
    }
    assert second["object"] == {"kind": "Ingress", "namespace": "default", "name": "web"}
    assert second["related"] == [{"file": "b.yaml", "line": 2, "column": 3}]
    assert third["column"] is None


def test_sarif_has_the_required_structure() -> None:
    document = json.loads(get_format("sarif").render(result()))
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    [run] = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ingressctl"
    assert driver["informationUri"].startswith("https://")
    assert driver["version"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["IC001", "IC305", "IC306"]
    assert all(r["shortDescription"]["text"] for r in rules)
    assert rules[2]["helpUri"] == help_uri("IC306") and rules[2]["helpUri"].endswith("README.md#ic306")
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]
    for sarif_result in results:
        assert rules[sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]
        assert sarif_result["message"]["text"]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "a.yaml"}, "region": {"startLine": 3, "startColumn": 7}}
    assert results[0]["message"]["text"] == "cannot parse YAML\nhint: fix the indent"
    related = results[1]["relatedLocations"][0]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "b.yaml"
    assert related["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 3}
    assert results[2]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 1


def test_sarif_uri_is_relative_to_the_working_directory_and_percent_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    finding = Diagnostic("IC303", Severity.WARNING, "m", Location(str(tmp_path / "dir x" / "a.yaml"), 1, 1))
    document = json.loads(get_format("sarif").render(CheckResult(findings=(finding,))))
    uri = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "dir%20x/a.yaml"


def test_github_workflow_commands_escape_data_and_properties() -> None:
    lines = get_format("github").render(result()).splitlines()
    assert (
        lines[0] == "::error file=a.yaml,line=3,col=7,title=IC001::cannot parse YAML%0Ahint: fix the indent"
    )
    assert lines[1] == (
        "::warning file=a.yaml,line=9,col=1,title=IC306::Ingress default/web: two secrets, 100%25 sure"
        "%0Ahint: use one: a, b"
    )
    assert lines[2] == "::notice file=b.yaml,line=5,title=IC305::port explained"
    assert escape_data("50%\r\nx") == "50%25%0D%0Ax"
    assert escape_property("C:\\a,b%") == "C%3A\\a%2Cb%25"
    odd = Diagnostic("IC301", Severity.WARNING, "m", Location("dir,1/f:2.yaml", 1, 2))
    assert (
        get_format("github")
        .render(CheckResult(findings=(odd,)))
        .startswith("::warning file=dir%2C1/f%3A2.yaml,line=1,col=2,title=IC301::m")
    )


def test_every_format_is_registered_and_ends_with_newline() -> None:
    assert set(FORMATS) == {"text", "json", "sarif", "github"}
    for name in FORMATS:
        assert get_format(name).render(result()).endswith("\n")


def test_every_code_has_a_description_and_a_readme_heading() -> None:
    codes = all_codes()
    assert set(CODES) <= set(codes)
    assert any(code.startswith("IC0") for code in codes) and any(code.startswith("IC2") for code in codes)
    section = markdown()
    for code, text in codes.items():
        assert text and f"\n### {code}\n\n{text}\n" in section
    assert describe("IC205") == codes["IC205"]
    assert describe("IC999") == "ingressctl finding IC999 (see the README)"


def test_stdin_positions_go_into_the_message_not_a_file_property() -> None:
    finding = Diagnostic(
        "IC205", Severity.ERROR, "no port", Location("<stdin>", 17, 23), related=(Location("<stdin>", 19, 1),)
    )
    single = CheckResult(findings=(finding,))
    assert get_format("github").render(single) == "::error title=IC205::<stdin>:17:23: no port\n"
    [sarif_result] = json.loads(get_format("sarif").render(single))["runs"][0]["results"]
    assert "locations" not in sarif_result and "relatedLocations" not in sarif_result
    assert sarif_result["message"]["text"] == "<stdin>:17:23: no port"
