"""`ingressctl routes` as a subprocess: the table, JSON, --explain, and the bundled examples."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest

from tests.certificates import self_signed
from tests.cli.conftest import Run, assert_no_traceback
from tests.conftest import EXAMPLES

SEEDBOX_HOSTS = (
    "h5ai.example.test",
    "sickrage.example.test",
    "rtorrent.example.test",
    "couchpotato.example.test",
)


def test_routes_table_shows_every_route(run: Run, fixtures: Path) -> None:
    result = run("routes", str(fixtures / "test_routes.yaml"))
    assert result.returncode == 0, result.stderr
    rows = {line for line in result.stdout.splitlines() if line.startswith("│")}
    h5ai = next(r for r in rows if "h5ai.example.test" in r and "web/h5ai:http" in r)
    for cell in ("web, websecure", "Prefix", "2 ready: 10.1.0.1:8080, 10.1.0.2:8080", "web/site", "ok"):
        assert cell in h5ai
    broken = next(r for r in rows if "broken.example.test" in r)
    assert "503 service-not-found" in broken and "Exact" in broken
    assert any("(any host)" in r and "/foo/bar" in r for r in rows)
    assert any("(default backend)" in r and "web/fallback:80" in r for r in rows)
    # A Service missing from manifests is information (the same whatever else the input holds): the
    # row shows the 503, and no error is summarised (a cluster's missing Service is: test_kubernetes_cli).
    assert result.stderr.strip() == ""


def test_routes_json_schema(run: Run, fixtures: Path) -> None:
    result = run("routes", str(fixtures / "test_routes.yaml"), "--format", "json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert list(document) == ["schema", "routes", "default_backend", "certificates", "entrypoints"]
    assert document["schema"] == "ingressctl.routes/v1"
    by_key = {(r["host"], r["path"]): r for r in document["routes"]}
    h5ai = by_key[("h5ai.example.test", "/")]
    assert h5ai["path_type"] == "Prefix"
    assert h5ai["entrypoints"] == ["web", "websecure"]
    assert h5ai["backend"]["service"] == "h5ai" and h5ai["backend"]["port"] == "http"
    assert h5ai["endpoints"] == {"ready": 2, "fallback": 0, "addresses": ["10.1.0.1:8080", "10.1.0.2:8080"]}
    assert h5ai["source"] == {"kind": "Ingress", "namespace": "web", "name": "site"}
    assert h5ai["status"] == "ok"
    broken = by_key[("broken.example.test", "/")]
    assert broken["status"] == "service-not-found" == broken["backend"]["problem"]
    assert by_key[(None, "/foo/bar")]["host_kind"] == "any"
    assert document["default_backend"]["backend"]["service"] == "fallback"
    assert document["default_backend"]["is_default_backend"] is True
    assert document["certificates"] == []


def test_routes_explain_winner_and_shadowed(run: Run, fixtures: Path) -> None:
    result = run(
        "routes", str(fixtures / "test_routes.yaml"), "--explain", "h5ai.example.test/x/../foo/bar/baz"
    )
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "canonical path: /foo/bar/baz" in lines
    winner = next(line for line in lines if line.startswith("winner: "))
    assert "Prefix /foo -> web/foo:8080" in winner
    assert next(line for line in lines if line.startswith("reason: ")).count("/foo") >= 1
    shadowed = lines[lines.index("shadowed:") + 1 :]
    assert [s.split(": ", 1)[1].split(" ->")[0] for s in shadowed] == [
        "h5ai.example.test Prefix /",
        "(any host) Prefix /foo/bar",
        "defaultBackend",
    ]


def test_routes_explain_json(run: Run, fixtures: Path) -> None:
    result = run(
        "routes",
        str(fixtures / "test_routes.yaml"),
        "--explain",
        "http://H5AI.example.test:8443/foo",
        "--format",
        "json",
    )
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert document["schema"] == "ingressctl.routes.explain/v1"
    assert document["request"] == {
        "url": "http://H5AI.example.test:8443/foo",
        "host": "H5AI.example.test:8443",
        "path": "/foo",
        "canonical_path": "/foo",
    }
    assert document["outcome"] == "routed" and document["status"] == 0
    assert document["route"]["path"] == "/foo" and document["route"]["backend"]["service"] == "foo"
    assert [r["path"] for r in document["shadowed"]] == ["/", ""]
    assert document["reason"]


def test_routes_explain_backend_problem_is_503_exit_0(run: Run, fixtures: Path) -> None:
    result = run("routes", str(fixtures / "test_routes.yaml"), "--explain", "http://broken.example.test/")
    assert result.returncode == 0
    assert "the proxy answers 503: service-not-found" in result.stdout


def test_routes_explain_no_match_is_404_exit_1(run: Run, fixtures: Path) -> None:
    path = str(fixtures / "test_validate_clean_file_exits_0.yaml")
    result = run("routes", path, "--explain", "http://elsewhere.example.test/")
    assert result.returncode == 1
    assert "404" in result.stdout
    as_json = run("routes", path, "--explain", "elsewhere.example.test/", "--format", "json")
    assert as_json.returncode == 1
    document = json.loads(as_json.stdout)
    assert (document["outcome"], document["status"], document["route"], document["shadowed"]) == (
        "no-route",
        404,
        None,
        [],
    )


def test_routes_explain_ambiguous_encoding_is_400_exit_1(run: Run, fixtures: Path) -> None:
    result = run("routes", str(fixtures / "test_routes.yaml"), "--explain", "http://h5ai.example.test/a%2Fb")
    assert result.returncode == 1
    assert "400" in result.stdout


def test_routes_explain_rejects_a_url_without_host(run: Run, fixtures: Path) -> None:
    result = run("routes", str(fixtures / "test_routes.yaml"), "--explain", "ftp://x/")
    assert result.returncode == 2
    assert "--explain" in result.stderr
    assert_no_traceback(result)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_routes_lists_certificates_but_never_key_material(run: Run, tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    host = "secure.example.test"
    cert, key = self_signed(host, names=[host], not_before=now - datetime.timedelta(days=1))
    (tmp_path / "tls.yaml").write_text(
        f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: secure, namespace: default}}
spec:
  tls:
  - hosts: [secure.example.test]
    secretName: secure-tls
  rules:
  - host: secure.example.test
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: {{name: secure-tls, namespace: default}}
data:
  tls.crt: {b64(cert)}
  tls.key: {b64(key)}
""",
        encoding="utf-8",
    )
    as_json = run("routes", str(tmp_path / "tls.yaml"), "--format", "json")
    document = json.loads(as_json.stdout)
    assert document["certificates"] == [{"hosts": ["secure.example.test"], "secret": "default/secure-tls"}]
    assert document["routes"][0]["tls"] == "secret"
    table = run("routes", str(tmp_path / "tls.yaml"))
    assert "secure.example.test: Secret default/secure-tls" in table.stdout
    for output in (as_json.stdout, table.stdout):
        assert (
            "PRIVATE KEY" not in output and b64(key)[:40] not in output and "BEGIN CERTIFICATE" not in output
        )


@pytest.mark.parametrize("flavour", ["v1", "v1beta1"])
def test_routes_on_the_bundled_examples_show_the_four_seedbox_hosts(run: Run, flavour: str) -> None:
    directory = EXAMPLES / flavour
    assert directory.is_dir(), f"{directory} is missing"
    table = run("routes", str(directory))
    assert table.returncode == 0, table.stderr
    for host in SEEDBOX_HOSTS:
        assert host in table.stdout
    document = json.loads(run("routes", str(directory), "--format", "json").stdout)
    assert set(SEEDBOX_HOSTS) <= {route["host"] for route in document["routes"]}


def test_validate_bundled_examples_v1_clean_and_v1beta1_deprecated(run: Run) -> None:
    current = run("validate", str(EXAMPLES / "v1"), "--format", "json")
    assert current.returncode == 0, current.stdout
    assert [f["code"] for f in json.loads(current.stdout)["findings"] if f["severity"] != "info"] == []
    legacy = run("validate", str(EXAMPLES / "v1beta1"), "--format", "json")
    assert legacy.returncode == 0  # deprecations are warnings...
    assert "IC301" in {f["code"] for f in json.loads(legacy.stdout)["findings"]}
    assert run("validate", str(EXAMPLES / "v1beta1"), "--strict").returncode == 1  # ...that --strict fails


def test_routes_compact_table_for_narrow_terminals(fixtures: Path) -> None:
    from rich.console import Console

    from ingressctl.checks import check
    from ingressctl.cli.routes_render import routes_table
    from ingressctl.manifests import load_paths
    from ingressctl.routing import CompileOptions

    result = check(load_paths([str(fixtures / "test_routes.yaml")]), CompileOptions())
    assert result.table is not None
    console = Console(width=200, record=True, color_system=None)
    console.print(routes_table(result.table, compact=True))
    text = console.export_text()
    headers = next(line for line in text.splitlines() if "Host" in line)
    assert [h.strip() for h in headers.strip("┃").split("┃")] == [
        "Host",
        "Path",
        "Type",
        "Service:port",
        "Ready",
        "Status",
    ]
    assert any("h5ai.example.test" in line and "2/2" in line and "ok" in line for line in text.splitlines())
    assert any(
        "broken.example.test" in line and "0/0" in line and "503 service-not-found" in line
        for line in text.splitlines()
    )


def test_routes_explain_lists_the_chain_in_the_order_the_proxy_applies_it(run: Run, fixtures: Path) -> None:
    manifest = str(fixtures / "test_routes_explain_lists_the_chain.yaml")
    text = run("routes", manifest, "--explain", "admin.example.test/console/x")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    start = lines.index("middlewares, in the order the proxy applies them:")
    assert [line.split(":")[0].strip() for line in lines[start + 1 : start + 5]] == [
        "1. ip-allow-list",
        "2. redirect->https",
        "3. basic-auth",
        "4. strip-prefix(/console)",
    ]
    assert "alice" not in text.stdout and "{SHA}" not in text.stdout
    document = json.loads(
        run("routes", manifest, "--explain", "admin.example.test/console/x", "--format", "json").stdout
    )
    chain = document["route"]["chain"]
    assert [m["name"] for m in chain] == ["ip-allow-list", "redirect", "basic-auth", "strip-prefix"]
    assert chain[0]["source_ranges"] == ["10.0.0.0/8", "192.168.0.0/16"]
    assert (chain[1]["entrypoint"], chain[2]["realm"], chain[3]["prefix"]) == (
        "https",
        "Staff only",
        "/console",
    )
    table = run("routes", manifest)
    assert "ip-allow-list, redirect->https, basic-auth, strip-prefix(/console)" in table.stdout
