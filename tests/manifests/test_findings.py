"""Each finding code from a small fixture file that declares what it must produce.

A fixture's first lines read `# expect: CODE LINE:COLUMN`; the loader must report exactly those
findings (no more, no fewer) at exactly those places.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingressctl.manifests import CODES, load_paths
from ingressctl.manifests.codes import SEVERITIES

FINDINGS = Path(__file__).resolve().parent / "fixtures" / "findings"
EXPECT = re.compile(r"^# expect: (IC\d{3}) (\d+):(\d+)$", re.M)


def _fixtures() -> list[Path]:
    return sorted(FINDINGS.glob("*.yaml"))


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.stem)
def test_fixture_produces_exactly_its_declared_findings(fixture: Path) -> None:
    expected = sorted((code, int(line), int(col)) for code, line, col in EXPECT.findall(fixture.read_text()))
    assert expected, f"{fixture.name} declares no expectation"
    result = load_paths([str(fixture)])
    found = sorted(
        (d.code, d.location.line, d.location.column) for d in result.diagnostics if d.location is not None
    )
    assert found == expected, "\n".join(f"{d.code} {d.location} {d.message}" for d in result.diagnostics)
    for diagnostic in result.diagnostics:
        assert diagnostic.location is not None and diagnostic.location.file == str(fixture)
        assert diagnostic.hint, f"{diagnostic.code} has no hint"
        assert diagnostic.severity == SEVERITIES[diagnostic.code]


def test_every_code_has_a_fixture_and_a_description() -> None:
    covered = {code for fixture in _fixtures() for code, _, _ in EXPECT.findall(fixture.read_text())}
    # IC004 needs a document a thousand levels deep: see test_yaml.py.
    assert set(CODES) - covered == {"IC004"}
    assert all(description.strip() for description in CODES.values())


def test_messages_name_the_object_and_the_field(fixtures: Path) -> None:
    result = load_paths([str(FINDINGS / "ic102_wrong_types.yaml")])
    messages = [d.message for d in result.diagnostics]
    assert (
        "Ingress default/legacy: spec.rules[0].http.paths[0].backend.servicePort: "
        "expected a number or a port name, found a string ('80')" in messages
    )
    hints = {d.message.split(":")[1].strip(): d.hint for d in result.diagnostics}
    assert hints["spec.rules[0].http.paths[0].backend.servicePort"].startswith("Write 80 without quotes")
    assert (
        result.diagnostics[0].object is not None
        and str(result.diagnostics[0].object) == "Ingress default/legacy"
    )


def test_unknown_field_suggests_the_closest_known_one() -> None:
    result = load_paths([str(FINDINGS / "ic103_unknown_fields.yaml")])
    by_field = {d.message.split(": ")[1]: d.hint for d in result.diagnostics}
    assert by_field["metadata.anotations"] == "Did you mean 'annotations'?"
    assert "ingressctl migrate" in by_field["spec.rules[0].http.paths[0].backend.serviceName"]


def test_duplicate_key_names_both_places() -> None:
    fixture = FINDINGS / "ic002_duplicate_key.yaml"
    (diagnostic,) = load_paths([str(fixture)]).diagnostics
    assert str(diagnostic.location) == f"{fixture}:8:3"
    assert [str(loc) for loc in diagnostic.related] == [f"{fixture}:7:3"]
    # The last value wins, as in JSON decoders.
    (service,) = load_paths([str(fixture)]).snapshot.services
    assert [p.port for p in service.ports] == [81]


def test_a_syntax_error_costs_only_its_own_document() -> None:
    result = load_paths([str(FINDINGS / "ic001_syntax_error.yaml")])
    assert [s.meta.name for s in result.snapshot.services] == ["before", "after"]
    assert result.documents == 2


def test_bad_base64_leaves_out_only_that_key() -> None:
    (secret,) = load_paths([str(FINDINGS / "ic110_bad_base64.yaml")]).snapshot.secrets
    assert dict(secret.data) == {"good": b"admin"}


def test_object_with_unknown_api_version_is_not_loaded() -> None:
    result = load_paths([str(FINDINGS / "ic107_unknown_api_version.yaml")])
    assert result.snapshot.ingresses == ()
    assert "Use apiVersion networking.k8s.io/v1" in result.diagnostics[0].hint
