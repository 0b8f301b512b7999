"""`ingressctl serve --check`: the real command line, checked without listening."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import endpoint_slice, ingress, service

from .conftest import run_cli

pytestmark = pytest.mark.timeout(90)

FIXTURES = Path(__file__).resolve().parents[1] / "cli" / "fixtures"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on: serve could not bind it, --check must not try."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_clean_manifests_exit_0_with_the_routes_and_no_port_bound(
    cli_env: dict[str, str], taken_port: int, tmp_path: Path
) -> None:
    manifests = str(FIXTURES / "test_validate_clean_file_exits_0.yaml")
    args = ["serve", "--manifests", manifests, "--entrypoint", f"web=127.0.0.1:{taken_port}"]
    served = run_cli(args, cli_env)
    # Without --check the same command line cannot start (the port is taken)...
    assert served.returncode == 2 and "address already in use" in served.stderr
    checked = run_cli([*args, "--check"], cli_env)
    # ...with it, nothing is bound: the configuration, the routes and the findings are printed.
    assert checked.returncode == 0, checked.stderr
    assert f"entrypoints: web=127.0.0.1:{taken_port}" in checked.stdout
    assert "routes: 1" in checked.stdout
    assert "0 errors" in checked.stdout


def test_errors_in_what_would_be_served_exit_1(cli_env: dict[str, str]) -> None:
    manifests = str(FIXTURES / "test_validate_errors_exit_1.yaml")
    proc = run_cli(["serve", "--check", "--manifests", manifests, "--entrypoint", "web=127.0.0.1:0"], cli_env)
    assert proc.returncode == 1, proc.stderr
    assert "web.example.test/ [web] -> default/web:8080 (0 endpoints) port-not-found" in proc.stdout
    assert "error IC205 Ingress default/web: Service default/web has no port 8080" in proc.stdout


def test_what_serve_refuses_at_start_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The examples' old crash loop: an API on every interface without authentication."""
    config = tmp_path / "traefik.toml"
    config.write_text('[entryPoints.web]\naddress = "127.0.0.1:0"\n[api]\naddress = ":8080"\n')
    manifests = str(FIXTURES / "test_validate_clean_file_exits_0.yaml")
    proc = run_cli(["serve", "--check", "--config", str(config), "--manifests", manifests], cli_env)
    assert proc.returncode == 2
    assert "the API address ':8080' (every interface) is reachable from other machines" in proc.stderr
    assert proc.stdout == ""


def test_kubernetes_is_listed_once_and_never_written(
    kube_api: KubeAPIServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    kube_api.apply_many(
        [
            service("app", "shop"),
            endpoint_slice("app-1", "app", ["127.0.0.1"], "shop", port=8080),
            ingress("app", "shop", host="app.test", service_name="app"),
        ]
    )
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    args = ["serve", "--check", "--kubeconfig", str(kubeconfig), "--entrypoint", "web=127.0.0.1:0"]
    proc = run_cli([*args, "--publish-address", "192.0.2.1"], cli_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "source: the cluster at https://127.0.0.1:" in proc.stdout
    assert "app.test/ [web] -> shop/app:80 (1 endpoint) ok" in proc.stdout
    verbs = {r.verb for r in kube_api.request_log() if r.verb}
    assert verbs == {"list"}, kube_api.request_log()  # no watch, no Lease, no status write
    # A service account that may not list Secrets: serve would not get its routes; --check says so.
    kube_api.add_token("narrow", "system:serviceaccount:ingressctl:narrow")
    kube_api.set_rules(
        [rule("system:serviceaccount:ingressctl:narrow", ["list", "watch"], ["ingresses", "services"])]
    )
    narrow = kube_api.write_kubeconfig(token="narrow", context="narrow")
    refused = run_cli(
        ["serve", "--check", "--kubeconfig", str(narrow), "--entrypoint", "web=127.0.0.1:0"], cli_env
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "forbidden" in refused.stderr.lower()
