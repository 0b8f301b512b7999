"""Traefik 1.7's `[kubernetes] enablePassTLSCert = true`: every Ingress passes the client's verified
certificate to its backend (X-Forwarded-Tls-Client-Cert) unless its own pass-tls-cert says "false".
A real `ingressctl serve` watching the test API server, curl presenting a client certificate."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress_app
from tests.needs import tool
from tests.serve.conftest import ServeProcess
from tests.serve.test_client_cert_headers import header_echo
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(120)

CONFIG = """\
[entryPoints.mtls]
address = "127.0.0.1:0"
  [entryPoints.mtls.tls]
    [entryPoints.mtls.tls.clientCA]
    files = ["clients-ca.pem"]
    optional = true
[kubernetes]
enablePassTLSCert = true
"""


def curl(port: int, host: str, tmp: Path) -> dict[str, str]:
    """The certificate headers the backend got for GET https://HOST/ with alice's certificate."""
    args = [tool("curl", "curl"), "-sS", "--fail", "--max-time", "20", "--insecure"]
    args += ["--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}/"]
    args += ["--cert", str(tmp / "alice.crt"), "--key", str(tmp / "alice.key")]
    args += ["-H", "X-Forwarded-Tls-Client-Cert: forged"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, str] = json.loads(proc.stdout)
    return answer


async def test_enable_pass_tls_cert_is_the_default_of_every_ingress(
    tmp_path: Path, kube_api: KubeAPIServer, serve: Callable[..., ServeProcess]
) -> None:
    clients = CA("clients CA")
    (tmp_path / "clients-ca.pem").write_bytes(clients.pem)
    crt, key = clients.issue(["alice"])
    (tmp_path / "alice.crt").write_bytes(crt)
    (tmp_path / "alice.key").write_bytes(key)
    (tmp_path / "traefik.toml").write_text(CONFIG)
    async with header_echo() as port:
        ingress_app(kube_api, "app", port)
        off = {"traefik.ingress.kubernetes.io/pass-tls-cert": "false"}
        ingress_app(kube_api, "off", port, annotations=off)
        kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
        sp = serve(
            "-c", str(tmp_path / "traefik.toml"), "--kubeconfig", str(kubeconfig), "--no-leader-election"
        )
        await asyncio.to_thread(sp.wait_ready)
        mtls = int(sp.addresses["mtls"].rsplit(":", 1)[1])
        der = x509.load_pem_x509_certificate(crt).public_bytes(serialization.Encoding.DER)
        expected = {"X-Forwarded-Tls-Client-Cert": quote_plus(base64.b64encode(der).decode(), safe="")}
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # the first configuration arrives through the watch
            try:
                got = await asyncio.to_thread(curl, mtls, "app.test", tmp_path)
            except AssertionError:
                got = {}
            if got == expected or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert got == expected
        # The Ingress's own "false" wins; the client's forged header never reaches the backend.
        assert await asyncio.to_thread(curl, mtls, "off.test", tmp_path) == {}
        assert "Traceback" not in sp.text, sp.text
