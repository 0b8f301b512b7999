"""Client certificates (mTLS) on a TLS entrypoint of a real `ingressctl serve`, Traefik v1's
`[entryPoints.X.tls.clientCA]` (`files`, `optional`), checked with curl: a certificate of the CA
passes, one of another CA or none at all is refused in the handshake; with `optional = true` a client
without a certificate gets in, one with a wrong certificate still does not. Holds for the certificate
the SNI callback switches to as for the default one."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.needs import tool
from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess, run_cli
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(90)
HOST = "shop.test"

CONFIG = """\
[entryPoints.strict]
address = "127.0.0.1:0"
  [entryPoints.strict.tls]
    [[entryPoints.strict.tls.certificates]]
    certFile = "site.crt"
    keyFile = "site.key"
    [entryPoints.strict.tls.clientCA]
    files = ["clients-ca.pem"]
[entryPoints.relaxed]
address = "127.0.0.1:0"
  [entryPoints.relaxed.tls]
    [entryPoints.relaxed.tls.ClientCA]
    files = ["clients-ca.pem"]
    optional = true
"""


def curl(address: str, tmp: Path, cert: str | None) -> tuple[int, str]:
    """(curl exit code, body) for GET https://shop.test/ through `address`."""
    port = address.rsplit(":", 1)[1]
    args = [
        tool("curl", "curl"),
        "-sS",
        "--max-time",
        "20",
        "--cacert",
        str(tmp / "server-ca.pem"),
        "--resolve",
        f"{HOST}:{port}:127.0.0.1",
        f"https://{HOST}:{port}/",
    ]
    if cert is not None:
        args[1:1] = ["--cert", str(tmp / f"{cert}.crt"), "--key", str(tmp / f"{cert}.key")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout


async def test_client_certificates_required_and_optional(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    server_ca, clients_ca, strangers = CA("server CA"), CA("clients CA"), CA("strangers CA")
    (tmp_path / "server-ca.pem").write_bytes(server_ca.pem)
    (tmp_path / "clients-ca.pem").write_bytes(clients_ca.pem)
    for name, ca, names in (
        ("site", server_ca, [HOST]),
        ("alice", clients_ca, ["alice"]),
        ("eve", strangers, ["eve"]),
    ):
        crt, key = ca.issue(names)
        (tmp_path / f"{name}.crt").write_bytes(crt)
        (tmp_path / f"{name}.key").write_bytes(key)
    (tmp_path / "traefik.toml").write_text(CONFIG)
    backend = await Backend("127.0.0.1").start()
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(app_manifest("app", HOST, "/", backend.port))
    sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(manifests))
    try:
        await asyncio.to_thread(sp.wait_ready)
        strict, relaxed = sp.addresses["strict"], sp.addresses["relaxed"]
        code, body = await asyncio.to_thread(curl, strict, tmp_path, "alice")
        assert code == 0 and body == f"127.0.0.1 {HOST}:{strict.rsplit(':', 1)[1]}"
        for cert in (None, "eve"):
            code, body = await asyncio.to_thread(curl, strict, tmp_path, cert)
            assert code != 0 and body == "", cert  # refused in the handshake: no request reaches a route
        assert backend.hits == 1
        # optional: no certificate is fine, a certificate of another CA is not.
        assert (await asyncio.to_thread(curl, relaxed, tmp_path, None))[0] == 0
        assert (await asyncio.to_thread(curl, relaxed, tmp_path, "alice"))[0] == 0
        assert (await asyncio.to_thread(curl, relaxed, tmp_path, "eve"))[0] != 0
    finally:
        await backend.stop()


def test_a_client_ca_that_cannot_be_read_is_an_error(tmp_path: Path, cli_env: dict[str, str]) -> None:
    (tmp_path / "traefik.toml").write_text(CONFIG)
    (tmp_path / "site.crt").write_text("")
    (tmp_path / "site.key").write_text("")
    (tmp_path / "clients-ca.pem").write_text("not a certificate\n")
    proc = run_cli(["serve", "--check", "-c", str(tmp_path / "traefik.toml")], cli_env)
    assert proc.returncode != 0
    assert "clients-ca.pem" in proc.stderr and "holds no PEM certificate" in proc.stderr, proc.stderr
