"""ingress-nginx auth-tls-verify-depth through a real `ingressctl serve`, with curl.

ingress-nginx's annotations page ("Client Certificate Authentication"): auth-tls-verify-depth is "the
validation depth between the provided client certificate and the Certification Authority chain"
(default 1), nginx's ssl_verify_depth, which counts as OpenSSL does: depth 1 allows one CA between the
client certificate and the root. ingressctl counts the chain as the Secret's ca.crt holds it; an
intermediate only the client sends cannot be seen (Python 3.11's ssl) and is refused (403).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess
from tests.serve.test_client_auth_per_host import CONFIG, curl, secret, with_tls
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(90)
NGINX = "nginx.ingress.kubernetes.io/"


async def test_verify_depth_bounds_the_client_chain(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    server_ca, root = CA("server CA"), CA("clients root")
    middle = root.intermediate("clients middle")
    low = middle.intermediate("clients low")
    (tmp_path / "server-ca.pem").write_bytes(server_ca.pem)
    site_crt, site_key = server_ca.issue(["*.shop.test"])
    for name, ca in (("direct", root), ("one", middle), ("two", low)):
        crt, key = ca.issue([name])
        (tmp_path / f"{name}.crt").write_bytes(crt)
        (tmp_path / f"{name}.key").write_bytes(key)
    backend = await Backend("127.0.0.1").start()

    def host(name: str, secret_name: str, depth: str | None) -> str:
        notes = f"    {NGINX}auth-tls-secret: {secret_name}\n"
        if depth is not None:
            notes += f"    {NGINX}auth-tls-verify-depth: {depth!r}\n"
        return with_tls(
            app_manifest(name, f"{name}.shop.test", "/", backend.port, notes), f"{name}.shop.test"
        )

    docs = [
        secret("site", {"tls.crt": site_crt, "tls.key": site_key}, "kubernetes.io/tls"),
        secret("chain-ca", {"ca.crt": root.pem + middle.pem + low.pem}),
        secret("root-ca", {"ca.crt": root.pem}),
        host("zero", "chain-ca", "0"),
        host("default", "chain-ca", None),
        host("deep", "chain-ca", "2"),
        host("rootonly", "root-ca", "5"),
    ]
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "apps.yaml").write_text("---\n".join(docs))
    (tmp_path / "traefik.toml").write_text(CONFIG)
    sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(manifests))
    try:
        await asyncio.to_thread(sp.wait_ready)
        port = int(sp.addresses["websecure"].rsplit(":", 1)[1])

        async def get(sni: str, cert: str) -> tuple[int, str]:
            return await asyncio.to_thread(curl, port, f"{sni}.shop.test", tmp_path, cert)

        # depth 0: only certificates the root issued itself.
        assert await get("zero", "direct") == (0, "200")
        assert await get("zero", "one") == (0, "403")
        # depth 1 (ingress-nginx's default): one CA between the certificate and the root.
        assert await get("default", "direct") == (0, "200")
        assert await get("default", "one") == (0, "200")
        assert await get("default", "two") == (0, "403")
        # depth 2: two CAs.
        assert await get("deep", "two") == (0, "200")
        # The intermediate only the client sends: verified in the handshake, but not countable here.
        assert await get("rootonly", "one") == (0, "403")
        assert await get("rootonly", "direct") == (0, "200")
    finally:
        await backend.stop()
