"""`ingressctl validate` as a subprocess: formats, exit codes, stdin, errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.cli.conftest import Run, assert_no_traceback

SUMMARY = re.compile(
    r"^\d+ errors?, \d+ warnings?, \d+ info in \d+ files? \(\d+ documents?, \d+ skipped objects?\)$"
)


def test_validate_clean_file_exits_0(run: Run, fixtures: Path) -> None:
    result = run("validate", str(fixtures / "test_validate_clean_file_exits_0.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "0 errors, 0 warnings, 0 info in 1 file (4 documents, 1 skipped object)"


def test_validate_info_only_is_clean(run: Run, fixtures: Path) -> None:
    result = run("validate", str(fixtures / "test_validate_info_only_is_clean.yaml"), "--strict")
    assert result.returncode == 0
    assert " info IC214 " in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "0 errors, 0 warnings, 1 info in 1 file (1 document, 0 skipped objects)"
    )


def test_validate_errors_exit_1_with_text_grouped_per_file(run: Run, fixtures: Path) -> None:
    path = str(fixtures / "test_validate_errors_exit_1.yaml")
    result = run("validate", path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == path
    assert lines[
        1
    ] == f"{path}:17:23: error IC205 Ingress default/web: Service default/web has no port 8080; " + (
        "requests answer 503"
    )
    assert lines[2].startswith("  hint: ")
    assert lines[3].startswith(f"{path}:17:23: info IC305 ")
    assert lines[4] == "  hint: use service.port.number: 80"
    assert SUMMARY.match(lines[-1])
    assert lines[-1].startswith("1 error, 0 warnings, 1 info")
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes


def test_validate_warnings_and_strict(run: Run, fixtures: Path) -> None:
    path = str(fixtures / "test_validate_warnings_and_strict.yaml")
    relaxed = run("validate", path)
    assert relaxed.returncode == 0
    assert f"{path}:7:5: warning IC302 " in relaxed.stdout
    assert "  hint: did you mean ingress.kubernetes.io/ssl-redirect?" in relaxed.stdout
    strict = run("validate", path, "--strict")
    assert strict.returncode == 1
    assert strict.stdout == relaxed.stdout


def test_validate_json_is_the_only_thing_on_stdout(run: Run, fixtures: Path) -> None:
    path = str(fixtures / "test_validate_errors_exit_1.yaml")
    result = run("validate", path, "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["schema"] == "ingressctl.validate/v1"
    assert document["summary"] == {
        "errors": 1,
        "warnings": 0,
        "info": 1,
        "files": 1,
        "documents": 2,
        "skipped": {},
        "suppressed": {},
    }
    first = document["findings"][0]
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
    assert (first["code"], first["severity"], first["file"], first["line"], first["column"]) == (
        "IC205",
        "error",
        path,
        17,
        23,
    )
    assert first["object"] == {"kind": "Ingress", "namespace": "default", "name": "web"}
    assert document["findings"][1]["related"] == [{"file": path, "line": 19, "column": 1}]
    # The people-facing summary goes to stderr in machine formats.
    assert SUMMARY.match(result.stderr.strip())


def test_validate_sarif_is_valid_and_relative(run: Run, fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures / "test_every_ic3xx_code.yaml", tmp_path / "shop.yaml")
    result = run("validate", str(tmp_path / "shop.yaml"), "--format", "sarif", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    [sarif_run] = document["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "ingressctl" and driver["informationUri"] and driver["version"]
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == sorted(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["helpUri"].endswith("#" + rule["id"].lower())
    results = sarif_run["results"]
    assert {r["ruleId"] for r in results} == set(rule_ids)
    assert {r["level"] for r in results} == {"error", "warning", "note"}
    for sarif_result in results:
        assert driver["rules"][sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]
        physical = sarif_result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "shop.yaml"
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    duplicate = next(r for r in results if r["ruleId"] == "IC308")
    assert duplicate["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 51


def test_validate_github_escapes_messages_and_properties(run: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "odd,name:1.yaml"
    manifest.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  annotations:\n"
        '    "ingress.kubernetes.io/100%-sure": "x"\nspec:\n  defaultBackend:\n'
        "    service: {name: web, port: {number: 80}}\n",
        encoding="utf-8",
    )
    result = run("validate", manifest.name, "--format", "github", cwd=tmp_path)
    lines = [line for line in result.stdout.splitlines() if "IC302" in line]
    assert lines == [
        "::warning file=odd%2Cname%3A1.yaml,line=6,col=5,title=IC302::Ingress default/web: "
        "unknown annotation ingress.kubernetes.io/100%25-sure; ingressctl ignores it"
        "%0Ahint: see the README's list of supported annotations"
    ]
    assert all(
        line.startswith(("::error ", "::warning ", "::notice ")) for line in result.stdout.splitlines()
    )


def test_validate_reads_stdin(run: Run, fixtures: Path) -> None:
    text = (fixtures / "test_validate_errors_exit_1.yaml").read_text(encoding="utf-8")
    result = run("validate", "-", "--format", "json", stdin=text)
    assert result.returncode == 1
    [finding, _] = json.loads(result.stdout)["findings"]
    assert finding["code"] == "IC205" and finding["line"] == 17


def test_validate_nonexistent_path_is_one_line_exit_2(run: Run, tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing.yaml" in result.stderr
    assert_no_traceback(result)


def test_validate_binary_file_is_exit_2(run: Run, tmp_path: Path) -> None:
    (tmp_path / "blob.yaml").write_bytes(b"kind: \x9c\xd6binary\x00")
    result = run("validate", str(tmp_path / "blob.yaml"))
    assert result.returncode == 2
    assert "blob.yaml" in result.stderr
    assert_no_traceback(result)


def test_validate_output_file_gets_the_report(run: Run, fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    result = run(
        "validate",
        str(fixtures / "test_validate_errors_exit_1.yaml"),
        "--format",
        "sarif",
        "--output",
        str(out),
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert SUMMARY.match(result.stderr.strip())


def test_validate_unwritable_output_is_exit_2(run: Run, fixtures: Path, tmp_path: Path) -> None:
    result = run(
        "validate",
        str(fixtures / "test_validate_clean_file_exits_0.yaml"),
        "--output",
        str(tmp_path / "no-such-dir" / "report.txt"),
    )
    assert result.returncode == 2
    assert "report.txt" in result.stderr
    assert_no_traceback(result)


def test_validate_ingress_class_flag_changes_what_is_linted(run: Run, fixtures: Path) -> None:
    path = str(fixtures / "test_validate_info_only_is_clean.yaml")
    ours = run("validate", path, "--ingress-class", "nginx", "--format", "json")
    codes = [f["code"] for f in json.loads(ours.stdout)["findings"]]
    assert "IC214" not in codes  # now served: the Service it names is checked instead
    assert ours.returncode in (0, 1)


def test_every_ic3xx_code(run: Run, fixtures: Path) -> None:
    result = run("validate", str(fixtures / "test_every_ic3xx_code.yaml"), "--format", "json")
    assert result.returncode == 1
    found = {(f["code"], f["line"], f["column"]) for f in json.loads(result.stdout)["findings"]}
    expected = {
        ("IC301", 2, 1),  # extensions/v1beta1 Ingress
        ("IC302", 8, 5),  # ssl-redirct
        ("IC307", 9, 5),  # nginx annotation
        ("IC303", 12, 5),  # typo.example.test has no rule
        ("IC306", 12, 5),  # shop-tls vs other-tls
        ("IC305", 21, 24),  # port name on unnamed ports
        ("IC304", 22, 11),  # plain.example.test without TLS
        ("IC308", 60, 1),  # Service shop/shop twice
        ("IC301", 69, 1),  # IngressClass v1beta1
        ("IC301", 76, 1),  # EndpointSlice v1beta1
        ("IC309", 12, 5),  # shop-tls names wrong.example.test only
        ("IC310", 101, 9),  # regex path
        ("IC311", 108, 11),  # rule without paths
    }
    assert expected <= found, sorted(found)
    by_code = {f["code"]: f for f in reversed(json.loads(result.stdout)["findings"])}
    assert "ingressctl migrate" in by_code["IC301"]["hint"]
    assert by_code["IC302"]["hint"] == "did you mean ingress.kubernetes.io/ssl-redirect?"


def _codes(result_stdout: str) -> list[tuple[str, str]]:
    return [(f["code"], f["severity"]) for f in json.loads(result_stdout)["findings"]]


def test_validate_flags_reach_the_compiler(run: Run, fixtures: Path, tmp_path: Path) -> None:
    path = str(fixtures / "test_validate_flags.yaml")
    # Class "edge" is not ours by default: not routed, an info finding only.
    assert _codes(run("validate", path, "--format", "json").stdout) == [("IC214", "info")]
    ours = run("validate", path, "--format", "json", "--ingress-class", "edge")
    assert ours.returncode == 1
    assert _codes(ours.stdout) == [("IC204", "info"), ("IC209", "error")]
    allowed = run(
        "validate", path, "--format", "json", "--ingress-class", "edge", "--allow-external-name-services"
    )
    assert allowed.returncode == 0
    assert _codes(allowed.stdout) == [("IC204", "info")]
    # The missing Service gets the same finding with or without the other Services of its namespace;
    # --require-services makes it an error.
    ingress_only = tmp_path / "ingress.yaml"
    ingress_only.write_text(Path(path).read_text(encoding="utf-8").split("---")[0], encoding="utf-8")
    lenient = run("validate", str(ingress_only), "--ingress-class", "edge", "--format", "json")
    assert lenient.returncode == 0 and ("IC204", "info") in _codes(lenient.stdout)
    for target in (str(ingress_only), path):
        strict = run("validate", target, "--ingress-class", "edge", "--require-services", "--format", "json")
        assert strict.returncode == 1 and ("IC203", "error") in _codes(strict.stdout)


def test_validate_controller_name_claims_an_ingress_class(run: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "classes.yaml"
    manifest.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: edge}\n"
        "spec: {controller: example.com/edge}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n"
        "spec:\n  ingressClassName: edge\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n",
        encoding="utf-8",
    )
    other = run("validate", str(manifest), "--format", "json")
    assert [c for c, _ in _codes(other.stdout)] == ["IC214"]
    claimed = run("validate", str(manifest), "--format", "json", "--controller-name", "example.com/edge")
    assert "IC214" not in [c for c, _ in _codes(claimed.stdout)]


def test_validate_without_input_exits_2_with_one_line(run: Run, tmp_path: Path) -> None:
    """No input is not success: a wrong path in a CI job must not pass the gate."""
    (tmp_path / "README.md").write_text("not a manifest\n", encoding="utf-8")
    result = run("validate", str(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        f"error: no manifest files found in {tmp_path}; give files or directories holding YAML manifests"
    )
    missing = run("validate", str(tmp_path / "nope"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    deployments = tmp_path / "deploy.yaml"
    deployments.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        encoding="utf-8",
    )
    skipped = run("validate", str(deployments), "--format", "json")
    assert skipped.returncode == 2 and skipped.stdout == ""
    assert skipped.stderr.strip().splitlines() == [
        f"error: nothing to validate in {deployments}: all 2 documents were skipped (ConfigMap 1, "
        "Deployment 1); validate reads Ingress, IngressClass, Service, EndpointSlice, Endpoints and Secret "
        "objects, and the Gateway API's GatewayClass, Gateway, HTTPRoute and ReferenceGrant"
    ]


def test_validate_output_is_deterministic(run: Run, fixtures: Path) -> None:
    # CI diffs and caches reports: the same input must give byte-identical output.
    path = str(fixtures / "test_every_ic3xx_code.yaml")
    first = run("validate", path, "--format", "sarif")
    second = run("validate", path, "--format", "sarif")
    assert first.stdout == second.stdout and first.returncode == second.returncode == 1
