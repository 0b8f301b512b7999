"""Client certificates per host (ingress-nginx auth-tls-secret, auth-tls-verify-client) through a real
`ingressctl serve`, with curl: the host asks for a certificate of its CA in the handshake, a route
refuses a request without one (400, as ingress-nginx) or with one verified for another host (403),
and hosts without the annotation on the same entrypoint are served without certificates."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.needs import tool
from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(90)
NGINX = "nginx.ingress.kubernetes.io/"

CONFIG = """\
[entryPoints.websecure]
address = "127.0.0.1:0"
  [entryPoints.websecure.tls]
"""


def secret(name: str, data: dict[str, bytes], kind: str = "Opaque") -> str:
    lines = "".join(f"  {k}: {base64.b64encode(v).decode()}\n" for k, v in data.items())
    meta = f"metadata: {{name: {name}, namespace: default}}"
    return f"apiVersion: v1\nkind: Secret\ntype: {kind}\n{meta}\ndata:\n{lines}"


def with_tls(manifest: str, host: str) -> str:
    """app_manifest's Ingress with a tls section naming the wildcard Secret."""
    return manifest.replace(
        "spec:\n  rules:", f"spec:\n  tls:\n  - hosts: [{host}]\n    secretName: site\n  rules:", 1
    )


def curl(port: int, sni: str, tmp: Path, cert: str | None, host: str | None = None) -> tuple[int, str]:
    args = [
        tool("curl", "curl"),
        "-sS",
        "--max-time",
        "20",
        "--cacert",
        str(tmp / "server-ca.pem"),
        "--resolve",
        f"{sni}:{port}:127.0.0.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        f"https://{sni}:{port}/",
    ]
    if host is not None:
        args[1:1] = ["-H", f"Host: {host}"]
    if cert is not None:
        args[1:1] = ["--cert", str(tmp / f"{cert}.crt"), "--key", str(tmp / f"{cert}.key")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout


async def test_client_certificates_per_host(tmp_path: Path, serve: Callable[..., ServeProcess]) -> None:
    server_ca, clients, partners = CA("server CA"), CA("clients CA"), CA("partners CA")
    (tmp_path / "server-ca.pem").write_bytes(server_ca.pem)
    site_crt, site_key = server_ca.issue(["*.shop.test"])
    for name, ca in (("alice", clients), ("bob", partners), ("eve", CA("strangers"))):
        crt, key = ca.issue([name])
        (tmp_path / f"{name}.crt").write_bytes(crt)
        (tmp_path / f"{name}.key").write_bytes(key)
    backend = await Backend("127.0.0.1").start()
    docs = [
        secret("site", {"tls.crt": site_crt, "tls.key": site_key}, "kubernetes.io/tls"),
        secret("clients-ca", {"ca.crt": clients.pem}),
        secret("partners-ca", {"ca.crt": partners.pem}),
        with_tls(
            app_manifest(
                "mtls", "mtls.shop.test", "/", backend.port, f"    {NGINX}auth-tls-secret: clients-ca\n"
            ),
            "mtls.shop.test",
        ),
        with_tls(
            app_manifest(
                "partner",
                "partner.shop.test",
                "/",
                backend.port,
                f"    {NGINX}auth-tls-secret: default/partners-ca\n"
                f"    {NGINX}auth-tls-verify-client: optional\n",
            ),
            "partner.shop.test",
        ),
        with_tls(app_manifest("open", "open.shop.test", "/", backend.port), "open.shop.test"),
    ]
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "apps.yaml").write_text("---\n".join(docs))
    (tmp_path / "traefik.toml").write_text(CONFIG)
    sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(manifests))
    try:
        await asyncio.to_thread(sp.wait_ready)
        port = int(sp.addresses["websecure"].rsplit(":", 1)[1])

        async def get(sni: str, cert: str | None, host: str | None = None) -> tuple[int, str]:
            return await asyncio.to_thread(curl, port, sni, tmp_path, cert, host)

        assert await get("mtls.shop.test", "alice") == (0, "200")
        assert await get("mtls.shop.test", None) == (0, "400")  # required: no certificate, no entry
        assert (await get("mtls.shop.test", "eve"))[0] != 0  # another CA: refused in the handshake
        assert (await get("mtls.shop.test", "bob"))[0] != 0  # the other host's CA does not count here
        # optional: without a certificate in, with one of its CA in, with one of another CA refused.
        assert await get("partner.shop.test", None) == (0, "200")
        assert await get("partner.shop.test", "bob") == (0, "200")
        assert (await get("partner.shop.test", "alice"))[0] != 0
        # A host without client certificates on the same entrypoint.
        assert await get("open.shop.test", None) == (0, "200")
        # A connection made for one host cannot carry another host's requests past its check.
        assert await get("open.shop.test", None, host="mtls.shop.test") == (0, "400")
        assert await get("partner.shop.test", "bob", host="mtls.shop.test") == (0, "403")
    finally:
        await backend.stop()
