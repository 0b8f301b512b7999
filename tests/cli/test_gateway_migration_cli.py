"""`ingressctl migrate --to gateway-api` through the real CLI (a subprocess, as users and CI run it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from ingressctl.checks.to_gateway.schema import check_all
from tests.cli.conftest import Run, assert_no_traceback

ROOT = Path(__file__).resolve().parents[2]
CHECK_FIXTURES = ROOT / "tests" / "checks" / "fixtures"
TRAEFIK = CHECK_FIXTURES / "test_to_gateway_traefik.yaml"
NGINX_FIXTURE = CHECK_FIXTURES / "test_to_gateway_nginx.yaml"


def test_a_protection_that_cannot_be_carried_writes_nothing_and_exits_1(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "gateway.yaml"
    result = run("migrate", "--to", "gateway-api", str(ROOT / "examples" / "v1"), "--output", str(out))
    assert_no_traceback(result)
    assert result.returncode == 1
    assert result.stdout == ""
    assert not out.exists()  # nothing a pipeline could apply
    assert "error: Ingress default/seedbox (" in result.stderr
    assert "ingress.kubernetes.io/auth-type: protects the route" in result.stderr
    assert "nothing written: 2 protection(s) cannot be carried" in result.stderr
    assert "--allow-unprotected" in result.stderr


def test_allow_unprotected_writes_the_routes_with_the_protection_named_in_a_comment(run: Run) -> None:
    result = run("migrate", "--to", "gateway-api", "--allow-unprotected", str(ROOT / "examples" / "v1"))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert check_all(documents) == []
    assert [d["kind"] for d in documents] == ["Gateway"] + ["HTTPRoute"] * 4
    blocks = result.stdout.split("\n---\n")
    route_block = next(b for b in blocks if "name: seedbox-h5ai.example.test" in b)
    assert (
        "# NOT MIGRATED, PROTECTION: ingress.kubernetes.io/auth-type: protects the route; needs an "
        "implementation-specific authentication filter"
    ) in route_block
    assert "served OPEN: do not apply it before adding the equivalent policy" in route_block
    assert "warning: written with --allow-unprotected" in result.stderr


def test_gateway_options_and_output_file(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "gateway.yaml"
    result = run(
        "migrate",
        "--to",
        "gateway-api",
        "--gateway-name",
        "edge",
        "--gateway-namespace",
        "infra",
        "--gateway-class",
        "eg",
        "--with-gateway-class",
        "--entrypoint",
        "web=:8000",
        "--entrypoint",
        "websecure=:8443,tls",
        "-o",
        str(out),
        str(NGINX_FIXTURE),
    )
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    documents = [d for d in yaml.safe_load_all(out.read_text()) if d]
    assert check_all(documents) == []
    kinds = [d["kind"] for d in documents]
    assert kinds[:2] == ["GatewayClass", "Gateway"]
    assert documents[0]["metadata"]["name"] == "eg"
    assert documents[0]["spec"]["controllerName"] == "ingressctl.io/gateway-controller"
    gateway = documents[1]
    assert gateway["metadata"] == {"name": "edge", "namespace": "infra"}
    assert gateway["spec"]["gatewayClassName"] == "eg"
    assert {x["name"]: x["port"] for x in gateway["spec"]["listeners"]} == {
        "web": 8000,
        "websecure-app.example.com": 8443,
        "websecure-portal.example.com": 8443,
    }
    # Both Secrets are outside the Gateway's namespace now: one ReferenceGrant per namespace.
    grants = {d["metadata"]["namespace"]: d for d in documents if d["kind"] == "ReferenceGrant"}
    assert sorted(grants) == ["default", "web"]
    routes = [d for d in documents if d["kind"] == "HTTPRoute"]
    assert all(
        p["name"] == "edge" and p["namespace"] == "infra" for r in routes for p in r["spec"]["parentRefs"]
    )
    # Deterministic order: GatewayClass, Gateway, grants, then routes by namespace and name.
    names = [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in routes]
    assert names == sorted(names)
    assert "4 Ingress(es) -> 1 Gateway, 4 HTTPRoute(s)" in result.stderr
    assert "warning: Ingress default/app (" in result.stderr and "proxy-body-size" in result.stderr


def test_same_input_same_bytes_whatever_the_order_of_the_files(run: Run, tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    # The same objects split over files named the other way round: read in the other order.
    shutil.copy(TRAEFIK, first_dir / "1.yaml")
    shutil.copy(NGINX_FIXTURE, first_dir / "2.yaml")
    shutil.copy(TRAEFIK, second_dir / "2.yaml")
    shutil.copy(NGINX_FIXTURE, second_dir / "1.yaml")
    args = ("migrate", "--to", "gateway-api", "--allow-unprotected")
    first = run(*args, ".", cwd=first_dir)
    second = run(*args, ".", cwd=second_dir)
    assert first.returncode == second.returncode == 0, first.stderr

    def without_sources(text: str) -> str:
        return "\n".join(line for line in text.splitlines() if not line.startswith("# From Ingress"))

    assert without_sources(first.stdout) == without_sources(second.stdout)
    assert first.stdout == run(*args, ".", cwd=first_dir).stdout


def test_an_incomplete_migration_is_written_and_exits_1(run: Run) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: np, namespace: default}\n"
        "spec:\n  rules:\n    - host: a.example.com\n      http:\n        paths:\n"
        "          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}\n"
    )
    result = run("migrate", "--to", "gateway-api", "-", stdin=text)
    assert_no_traceback(result)
    assert result.returncode == 1
    assert "kind: HTTPRoute" in result.stdout
    assert (
        "error: Ingress default/np" in result.stderr and "a backendRef needs the port number" in result.stderr
    )


def test_bad_flags_exit_2_with_a_message(run: Run) -> None:
    cases = [
        (("--to", "istio"), "only gateway-api"),
        (("--to", "gateway-api", "--in-place"), "drop --in-place"),
        (("--to", "gateway-api", "--gateway-name", "Bad_Name"), "--gateway-name 'Bad_Name'"),
        (("--to", "gateway-api", "--entrypoint", "web"), "--entrypoint"),
        (("--output", "x.yaml"), "go with --to"),
    ]
    for flags, message in cases:
        result = run("migrate", *flags, str(TRAEFIK))
        assert_no_traceback(result)
        assert result.returncode == 2, (flags, result.stderr)
        assert message in result.stderr, (flags, result.stderr)


def test_format_json_reports_objects_and_notes(run: Run) -> None:
    refused = run("migrate", "--to", "gateway-api", "--format", "json", str(ROOT / "examples" / "v1"))
    assert_no_traceback(refused)
    assert refused.returncode == 1
    report = json.loads(refused.stdout)
    assert (report["schema"], report["written"], report["objects"]) == (1, False, [])
    assert report["counts"]["unprotected"] == 2
    assert {n["key"] for n in report["notes"]} == {
        "ingress.kubernetes.io/auth-type",
        "ingress.kubernetes.io/auth-secret",
    }
    assert report["notes"][0]["where"].startswith(str(ROOT / "examples" / "v1" / "seedbox-ingress.yaml"))
    written = run("migrate", "--to", "gateway-api", "--format", "json", str(NGINX_FIXTURE))
    assert written.returncode == 0, written.stderr
    report = json.loads(written.stdout)
    assert report["written"] is True
    assert check_all(report["objects"]) == []
    assert [o["kind"] for o in report["objects"]][:2] == ["Gateway", "ReferenceGrant"]


def test_an_ingress_the_loader_cannot_read_is_an_error_not_a_silent_gap(run: Run) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: off, namespace: default}\n"
        "spec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n"
    )
    result = run("migrate", "--to", "gateway-api", "-", stdin=text)
    assert_no_traceback(result)
    assert result.returncode == 1
    assert "error: <stdin>:3" in result.stderr and "metadata.name: expected a string" in result.stderr
