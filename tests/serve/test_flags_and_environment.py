"""`serve` configured by flags and environment variables alone (no --config), as in a container:
TLS and redirect entrypoints from --entrypoint, --default-certificate, INGRESSCTL_<FLAG> variables
(a flag on the command line wins), and --help naming every variable."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from ingressctl.cli.serve_flags import FLAGS
from tests.certificates import self_signed
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress_app, ingress_class, load_balancer, secret
from tests.support.manifests import app_manifest, write_atomically

from .conftest import ServeProcess, run_cli
from .echo import echo_backend

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    async with echo_backend() as port:
        yield port


def _certificate(tmp_path: Path, name: str) -> str:
    cert, key = self_signed(name)
    (tmp_path / f"{name}.crt").write_bytes(cert)
    (tmp_path / f"{name}.key").write_bytes(key)
    return f"{tmp_path / name}.crt,{tmp_path / name}.key"


def _served_common_name(address: str, server_name: str) -> str:
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, int(port)), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value)


async def test_tls_redirect_and_default_certificate_from_the_environment_alone(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_atomically(manifests, app_manifest("app", "app.test", "/", echo))
    env = {
        "INGRESSCTL_MANIFESTS": str(manifests),
        "INGRESSCTL_ENTRYPOINT": "web=127.0.0.1:0,redirect=websecure websecure=127.0.0.1:0,tls",
        "INGRESSCTL_DEFAULT_CERTIFICATE": _certificate(tmp_path, "fallback.example"),
    }
    sp = serve(env=env)
    await asyncio.to_thread(sp.wait_ready)
    web, websecure = sp.addresses["web"], sp.addresses["websecure"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.get(f"http://{web}/x", headers={"Host": "app.test"}, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == f"https://app.test:{websecure.rpartition(':')[2]}/x"
        async with session.get(f"https://{websecure}/", headers={"Host": "app.test"}, ssl=False) as r:
            assert r.status == 200
            assert (await r.json())["X-Forwarded-Proto"] == "https"
    # A name without a certificate of its own gets --default-certificate, not a generated one.
    assert await asyncio.to_thread(_served_common_name, websecure, "unknown.test") == "fallback.example"


async def test_a_flag_wins_over_its_environment_variable(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_atomically(manifests, app_manifest("app", "app.test", "/", echo))
    # The variable's entrypoint (port 1 needs root, and "bad" is not a log level) would not start;
    # an empty variable is no value (as in Click), not a configuration file named "".
    env = {"INGRESSCTL_ENTRYPOINT": "web=127.0.0.1:1", "INGRESSCTL_LOG_LEVEL": "bad", "INGRESSCTL_CONFIG": ""}
    sp = serve(
        "--manifests", str(manifests), "--entrypoint", "web=127.0.0.1:0", "--log-level", "info", env=env
    )
    await asyncio.to_thread(sp.wait_ready)
    assert sp.addresses["web"] != "127.0.0.1:1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"INGRESSCTL_WORKERS": "two"},
            "error: INGRESSCTL_WORKERS='two' (for --workers): not a whole number",
        ),
        (
            {"INGRESSCTL_ACCESS_LOG": "maybe"},
            "error: INGRESSCTL_ACCESS_LOG='maybe' (for --access-log): use 1, true, yes or on; "
            "0, false, no or off",
        ),
        (
            {"INGRESSCTL_ENTRYPOINT": "web=:80,tls,redirect"},
            'error: --entrypoint web=:80,tls,redirect: write redirect=OTHER, not "redirect"',
        ),
    ],
)
def test_a_bad_environment_value_is_one_error_line(
    tmp_path: Path, cli_env: dict[str, str], env: dict[str, str], message: str
) -> None:
    result = run_cli(["serve", "--manifests", str(tmp_path)], {**cli_env, **env})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == message


def test_a_default_certificate_that_cannot_be_served_is_refused_at_start(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    one, other = _certificate(tmp_path, "one.example"), _certificate(tmp_path, "other.example")
    mixed = f"{one.split(',')[0]},{other.split(',')[1]}"
    result = run_cli(
        [
            *("serve", "--manifests", str(tmp_path)),
            *("--entrypoint", "websecure=127.0.0.1:0,tls", "--default-certificate", mixed),
        ],
        cli_env,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --default-certificate {mixed}: ")
    assert "Traceback" not in result.stderr


def test_help_names_the_variable_of_every_flag(cli_env: dict[str, str]) -> None:
    result = run_cli(["serve", "--help"], cli_env)
    assert result.returncode == 0, result.stderr
    flat = re.sub(r"[\s│]", "", result.stdout)
    for flag in FLAGS:
        assert f"[envvar:{flag.envvar}]" in flat, flag.envvar


def test_no_variable_is_one_kubernetes_sets_for_a_service() -> None:
    # Pods get NAME_SERVICE_HOST, NAME_SERVICE_PORT, NAME_PORT and NAME_PORT_<n>_<proto>... for
    # every Service of their namespace: a Service named "ingressctl" must not set a flag by accident.
    service_link = re.compile(r"_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)\w*)?)$")
    assert [f.envvar for f in FLAGS if service_link.search(f.envvar)] == []


async def test_a_cluster_install_by_flags_alone(
    tmp_path: Path, kube_api: KubeAPIServer, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    """The issue's "done when": TLS host rules, ingress class and status address with flags only."""
    cert, key = self_signed("secure.test", names=["secure.test"])
    kube_api.apply(ingress_class("public", controller="example.com/ingress"))
    kube_api.apply(
        secret(
            "secure-tls",
            "shop",
            type_="kubernetes.io/tls",
            data={"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
        )
    )
    ingress_app(kube_api, "secure", echo, tls_secret="secure-tls", ingress_class="public")
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        *("--kubernetes", "--kubeconfig", str(kubeconfig), "--leader-election-namespace", "ingressctl"),
        *("--entrypoint", "web=127.0.0.1:0", "--entrypoint", "websecure=127.0.0.1:0,tls"),
        *("--ingress-class", "public", "--controller-name", "example.com/ingress"),
        *("--publish-address", "192.0.2.10"),
    )
    await asyncio.to_thread(sp.wait_ready)
    websecure = sp.addresses["websecure"]
    assert await asyncio.to_thread(_served_common_name, websecure, "secure.test") == "secure.test"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.get(f"https://{websecure}/", headers={"Host": "secure.test"}, ssl=False) as r,
    ):
        assert r.status == 200
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while load_balancer(kube_api, "secure") != [{"ip": "192.0.2.10"}]:
        assert loop.time() < deadline, sp.text
        await asyncio.sleep(0.05)
