"""The client's TLS certificate passed on to the backend through a real `ingressctl serve`, with curl
presenting client certificates and a backend echoing the headers it got:

- Traefik 1.7 `pass-client-tls-cert` on an entrypoint with `clientCA`: X-Forwarded-Tls-Client-Cert (the
  PEM body, URL-escaped as Traefik does) and X-Forwarded-Tls-Client-Cert-Infos;
- ingress-nginx `auth-tls-pass-certificate-to-upstream` with `auth-tls-secret`: ssl-client-cert, the PEM
  URL-encoded as nginx's $ssl_client_escaped_cert (ingress-nginx docs, annotations: "Indicates if the
  received certificates should be passed or not to the upstream server in the header ssl-client-cert");
- headers of those names that the client wrote itself never reach the backend, with or without a
  certificate, and a certificate verified for another host is not passed on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.needs import tool
from tests.serve.conftest import ServeProcess
from tests.serve.test_client_auth_per_host import secret, with_tls
from tests.support.backends import loopback_backend
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(120)
NGINX = "nginx.ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"
ECHOED = (
    "X-Forwarded-Tls-Client-Cert",
    "X-Forwarded-Tls-Client-Cert-Infos",
    "X-Forwarded-Tls-Client-Cert-Info",
    "X_Forwarded_Tls_Client_Cert",
    "ssl-client-cert",
    "ssl_client_cert",
    "ssl-client-verify",
    "ssl_client_verify",
    "ssl-client-subject-dn",
    "ssl-client-issuer-dn",
)
T1_FORGED = [f"{name}: forged" for name in ECHOED if "Forwarded" in name]
NGINX_FORGED = [f"{name}: forged" for name in ECHOED if "ssl" in name]

CONFIG = """\
[entryPoints.mtls]
address = "127.0.0.1:0"
  [entryPoints.mtls.tls]
    [entryPoints.mtls.tls.clientCA]
    files = ["clients-ca.pem"]
    optional = true
[entryPoints.websecure]
address = "127.0.0.1:0"
  [entryPoints.websecure.tls]
"""

PASS_CLIENT_TLS_CERT = f"""\
    {TRAEFIK}pass-client-tls-cert: |
      pem: true
      infos:
        notafter: true
        sans: true
        subject:
          commonname: true
"""


@contextlib.asynccontextmanager
async def header_echo() -> AsyncIterator[int]:
    """A backend on 127.0.0.1 answering {name: value} for the ECHOED headers it received."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({n: request.headers[n] for n in ECHOED if n in request.headers})

    async with loopback_backend(handler) as port:
        yield port


def curl(
    port: int, sni: str, tmp: Path, cert: str | None, forged: list[str], host: str | None = None
) -> dict[str, str]:
    """The headers the backend got for GET https://SNI/ (Host: `host`) with the `forged` headers."""
    args = [tool("curl", "curl"), "-sS", "--fail", "--max-time", "20", "--cacert", str(tmp / "server-ca.pem")]
    args += ["--resolve", f"{sni}:{port}:127.0.0.1", f"https://{sni}:{port}/"]
    for header in forged + ([f"Host: {host}"] if host else []):
        args += ["-H", header]
    if cert is not None:
        args += ["--cert", str(tmp / f"{cert}.crt"), "--key", str(tmp / f"{cert}.key")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, str] = json.loads(proc.stdout)
    return answer


def leaf(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


async def test_client_certificate_headers(tmp_path: Path, serve: Callable[..., ServeProcess]) -> None:
    server_ca, clients, partners = CA("server CA"), CA("clients CA"), CA("partners CA")
    (tmp_path / "server-ca.pem").write_bytes(server_ca.pem)
    (tmp_path / "clients-ca.pem").write_bytes(clients.pem)
    site_crt, site_key = server_ca.issue(["*.shop.test"])
    for name, ca in (("alice", clients), ("bob", partners)):
        crt, key = ca.issue([name])
        (tmp_path / f"{name}.crt").write_bytes(crt)
        (tmp_path / f"{name}.key").write_bytes(key)
    async with header_echo() as port:
        docs = [
            secret("site", {"tls.crt": site_crt, "tls.key": site_key}, "kubernetes.io/tls"),
            secret("partners-ca", {"ca.crt": partners.pem}),
            with_tls(app_manifest("t1", "t1.shop.test", "/", port, PASS_CLIENT_TLS_CERT), "t1.shop.test"),
            with_tls(
                app_manifest(
                    "nginx",
                    "nginx.shop.test",
                    "/",
                    port,
                    f"    {NGINX}auth-tls-secret: partners-ca\n"
                    f"    {NGINX}auth-tls-verify-client: optional\n"
                    f'    {NGINX}auth-tls-pass-certificate-to-upstream: "true"\n',
                ),
                "nginx.shop.test",
            ),
        ]
        manifests = tmp_path / "manifests"
        manifests.mkdir()
        (manifests / "apps.yaml").write_text("---\n".join(docs))
        (tmp_path / "traefik.toml").write_text(CONFIG)
        sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(manifests))
        await asyncio.to_thread(sp.wait_ready)
        mtls = int(sp.addresses["mtls"].rsplit(":", 1)[1])
        websecure = int(sp.addresses["websecure"].rsplit(":", 1)[1])

        async def get(port: int, sni: str, cert: str | None, host: str | None = None) -> dict[str, str]:
            forged = NGINX_FORGED if (host or sni).startswith("nginx") else T1_FORGED
            return await asyncio.to_thread(curl, port, sni, tmp_path, cert, forged, host)

        # Traefik 1.7: the entrypoint's clientCA verified alice's certificate.
        alice = leaf(tmp_path / "alice.crt")
        alice_der = alice.public_bytes(serialization.Encoding.DER)
        infos = f'Subject="CN=alice",NA={int(alice.not_valid_after_utc.timestamp())},SAN=alice'
        assert await get(mtls, "t1.shop.test", "alice") == {
            "X-Forwarded-Tls-Client-Cert": quote_plus(base64.b64encode(alice_der).decode(), safe=""),
            "X-Forwarded-Tls-Client-Cert-Infos": quote_plus(infos, safe=""),
        }
        # No certificate (optional clientCA): the forged headers are gone, nothing in their place.
        assert await get(mtls, "t1.shop.test", None) == {}

        # ingress-nginx: the host's auth-tls CAs verified bob's certificate.
        bob_pem = leaf(tmp_path / "bob.crt").public_bytes(serialization.Encoding.PEM)
        # ingress-nginx also tells every auth-tls backend the verification result, subject and issuer
        # (its annotations page, "Client Certificate Authentication"); forged copies never reach it.
        assert await get(websecure, "nginx.shop.test", "bob") == {
            "ssl-client-cert": quote(bob_pem.decode(), safe=""),
            "ssl-client-verify": "SUCCESS",
            "ssl-client-subject-dn": "CN=bob",
            "ssl-client-issuer-dn": leaf(tmp_path / "bob.crt").issuer.rfc4514_string(),
        }
        assert await get(websecure, "nginx.shop.test", None) == {"ssl-client-verify": "NONE"}
        # A connection whose certificate was verified for nginx.shop.test's CAs, asking for the
        # Traefik host: that certificate is not passed on, and nothing forged gets through.
        assert await get(websecure, "nginx.shop.test", "bob", host="t1.shop.test") == {}
        assert await get(websecure, "t1.shop.test", None) == {}
