"""`ingressctl migrate` as a real subprocess: the output is valid v1 that routes exactly like the input."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ingressctl.manifests import LoadResult, load_paths
from ingressctl.model import PathType, Severity
from ingressctl.routing import CompileOptions, compile

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

COMMENTED = """\
# Service first: must come out byte for byte.
apiVersion: v1
kind: Service
metadata:
    name: web     # odd indentation, kept
spec:
    ports: [{name: http, port: 80, targetPort: 8080}]
---
# the Ingress
apiVersion: networking.k8s.io/v1beta1
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: "traefik"   # kept as written
spec:
  backend:
    serviceName: web
    servicePort: 80
  rules:
    - host: 'web.example.test'
      http:
        paths:
          - path: /api   # the API
            backend:
              serviceName: web  # same service
              servicePort: "http"
          - path: /exact
            pathType: Exact
            backend: {serviceName: web, servicePort: 80}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: http, port: 8080}]}]
"""


def _run(
    cmd: list[str], env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, "migrate", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _routes(result: LoadResult) -> list[tuple[str | None, str, str, tuple[str, ...]]]:
    table, _ = compile(result.snapshot, CompileOptions())
    return sorted(
        (r.host, r.path, r.backend.label, tuple(u.authority for u in r.backend.upstreams))
        for r in table.routes
    )


def _matches(result: LoadResult, requests: list[tuple[str, str]]) -> list[str | None]:
    table, _ = compile(result.snapshot, CompileOptions())
    out: list[str | None] = []
    for host, path in requests:
        match = table.match(host, path)
        out.append(None if match is None else f"{match.route.backend.label}@{match.route.path}")
    return out


def test_migrated_examples_load_as_v1_and_route_identically(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    proc = _run(ingressctl_cmd, cli_env, str(EXAMPLES / "v1beta1"))
    assert proc.returncode == 0, proc.stderr
    assert "migrates Ingress default/seedbox (extensions/v1beta1 -> networking.k8s.io/v1" in proc.stderr
    migrated = load_paths(["-"], stdin=io.StringIO(proc.stdout))
    assert [d for d in migrated.diagnostics if d.severity is Severity.ERROR] == []
    (ingress,) = migrated.snapshot.ingresses
    assert ingress.api_version == "networking.k8s.io/v1"
    assert {p.path_type for r in ingress.rules for p in r.paths} == {PathType.IMPLEMENTATION_SPECIFIC}
    original = load_paths([str(EXAMPLES / "v1beta1")])
    assert ingress.meta.annotations == original.snapshot.ingresses[0].meta.annotations
    assert _routes(migrated) == _routes(original)
    assert len(migrated.snapshot.services) == 4 and len(migrated.snapshot.endpoint_slices) == 4


def test_in_place_keeps_comments_order_and_other_documents(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(COMMENTED)
    before = load_paths([str(path)])
    proc = _run(ingressctl_cmd, cli_env, "--in-place", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    text = path.read_text()
    service_doc, ingress_doc, endpoints_doc = text.split("\n---\n")
    old_service, _, old_endpoints = COMMENTED.split("\n---\n")
    assert service_doc == old_service and endpoints_doc == old_endpoints
    assert (
        ingress_doc
        == """\
# the Ingress
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    kubernetes.io/ingress.class: "traefik"   # kept as written
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
  rules:
    - host: 'web.example.test'
      http:
        paths:
          - path: /api   # the API
            pathType: ImplementationSpecific
            backend:
              service:
                name: web       # same service
                port:
                  name: "http"
          - path: /exact
            pathType: Exact
            backend: {service: {name: web, port: {number: 80}}}"""
    )
    after = load_paths([str(path)])
    assert [d for d in after.diagnostics if d.severity is Severity.ERROR] == []
    requests = [
        ("web.example.test", "/api/x"),
        ("web.example.test", "/exact"),
        ("other.test", "/"),
        ("web.example.test", "/apix"),
    ]
    assert _matches(after, requests) == _matches(before, requests)
    assert _routes(after) == _routes(before)
    # A second run finds nothing left to do.
    again = _run(ingressctl_cmd, cli_env, "--in-place", str(path))
    assert again.returncode == 0
    assert "nothing to migrate" in again.stderr
    assert path.read_text() == text


def test_diff(ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "v1beta1", tmp_path / "v1beta1")
    proc = _run(ingressctl_cmd, cli_env, "--diff", str(tmp_path / "v1beta1"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"--- a/{tmp_path}/v1beta1/seedbox-ingress.yaml"
    assert "-apiVersion: extensions/v1beta1" in lines and "+apiVersion: networking.k8s.io/v1" in lines
    assert "-          serviceName: h5ai" in lines and "+            name: h5ai" in lines
    assert lines.count("+        pathType: ImplementationSpecific") == 4
    # --diff alone changes nothing on disk.
    assert (tmp_path / "v1beta1" / "seedbox-ingress.yaml").read_text() == (
        EXAMPLES / "v1beta1" / "seedbox-ingress.yaml"
    ).read_text()


def test_stdin_and_nothing_to_do(ingressctl_cmd: list[str], cli_env: dict[str, str]) -> None:
    proc = _run(ingressctl_cmd, cli_env, "-", stdin=COMMENTED)
    assert proc.returncode == 0
    assert (
        "networking.k8s.io/v1beta1" not in proc.stdout and "pathType: ImplementationSpecific" in proc.stdout
    )
    v1 = (EXAMPLES / "v1" / "seedbox-ingress.yaml").read_text()
    proc = _run(ingressctl_cmd, cli_env, "-", stdin=v1)
    assert (proc.returncode, proc.stdout) == (0, v1)
    assert "nothing to migrate" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-dir/x.yaml"], "no-such-dir/x.yaml: no such file or directory"),
        (["--in-place", "-"], "--in-place cannot rewrite stdin"),
    ],
)
def test_unusable_input_exits_2(
    ingressctl_cmd: list[str], cli_env: dict[str, str], args: list[str], message: str
) -> None:
    proc = _run(ingressctl_cmd, cli_env, *args, stdin="")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unparseable_document_is_left_alone_and_exits_1(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.yaml"
    broken = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: broken\n"
    path.write_text(COMMENTED + "---\n" + broken)
    proc = _run(ingressctl_cmd, cli_env, "--in-place", str(path))
    assert proc.returncode == 1
    assert f"{path}:" in proc.stderr and "not migrated" in proc.stderr
    text = path.read_text()
    assert text.endswith("---\n" + broken)
    assert "apiVersion: networking.k8s.io/v1\nkind: Ingress" in text


def test_in_place_through_a_symlink_rewrites_the_target_and_keeps_the_link(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    real = tmp_path / "repo" / "ingress.yaml"
    real.parent.mkdir()
    real.write_text(COMMENTED)
    link = tmp_path / "ingress.yaml"
    link.symlink_to(real)
    # The same file named three ways is migrated once.
    proc = _run(ingressctl_cmd, cli_env, "--in-place", str(link), str(real), str(real.parent))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == real
    assert "apiVersion: networking.k8s.io/v1\nkind: Ingress" in real.read_text()
    assert proc.stderr.count("migrated ") == 1, proc.stderr
    assert [p.name for p in real.parent.iterdir()] == ["ingress.yaml"]


def test_format_json_each_input_with_its_result(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`--format json`: one document on stdout (schema 1), the same keys per input, messages on stderr."""
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(COMMENTED)
    current = tmp_path / "current.yaml"
    v1 = (EXAMPLES / "v1" / "seedbox-ingress.yaml").read_text()
    current.write_text(v1)

    printed = _run(ingressctl_cmd, cli_env, "--format", "json", str(legacy), str(current))
    assert printed.returncode == 0, printed.stderr
    doc = json.loads(printed.stdout)
    assert doc["schema"] == 1 and doc["problems"] == 0
    by_file = {entry["file"]: entry for entry in doc["files"]}
    assert set(by_file) == {str(legacy), str(current)}
    migrated = by_file[str(legacy)]
    assert migrated["modified"] is True and migrated["problems"] == []
    assert migrated["changes"] == [
        f"Ingress default/web (networking.k8s.io/v1beta1 -> networking.k8s.io/v1, line 9) in {legacy}"
    ]
    assert doc["migrated"] == 1
    assert "pathType: ImplementationSpecific" in migrated["text"]
    assert "networking.k8s.io/v1beta1" not in migrated["text"]
    assert by_file[str(current)] == {
        "file": str(current), "modified": False, "changes": [], "problems": [], "text": v1
    }  # fmt: skip
    assert "migrates Ingress default/web" in printed.stderr

    diffed = json.loads(_run(ingressctl_cmd, cli_env, "--format", "json", "--diff", str(legacy)).stdout)
    assert "+apiVersion: networking.k8s.io/v1" in diffed["files"][0]["diff"]
    assert "text" not in diffed["files"][0] and legacy.read_text() == COMMENTED

    written = _run(ingressctl_cmd, cli_env, "--format", "json", "--in-place", str(legacy), str(current))
    assert written.returncode == 0, written.stderr
    entries = {e["file"]: e for e in json.loads(written.stdout)["files"]}
    assert entries[str(legacy)]["written"] is True and entries[str(current)]["written"] is False
    assert "apiVersion: networking.k8s.io/v1\nkind: Ingress" in legacy.read_text()
    assert current.read_text() == v1


def test_format_json_reports_unparseable_documents_and_exits_1(
    ingressctl_cmd: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: broken\n")
    proc = _run(ingressctl_cmd, cli_env, "--format", "json", str(path))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["problems"] == 1 and "not migrated" in doc["files"][0]["problems"][0]
    bad = _run(ingressctl_cmd, cli_env, "--format", "xml", str(path))
    assert bad.returncode == 2 and "--format 'xml'" in bad.stderr
