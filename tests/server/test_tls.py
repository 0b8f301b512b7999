"""TLS entrypoints: certificates from Ingress Secrets chosen by SNI, default certificate, 421, TLS 1.2+."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ingressctl.model.config import EntryPoint, EntryPointTLS, StaticConfig
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from ingressctl.tls.store import CertificateStore
from tests.certificates import self_signed
from tests.support.manifests import app_manifest

pytestmark = [pytest.mark.timeout(30), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def tls_manifests(port: int, cert_pem: bytes, key_pem: bytes) -> str:
    secret = f"""apiVersion: v1
kind: Secret
metadata: {{name: secure-tls, namespace: default}}
type: kubernetes.io/tls
data:
  tls.crt: {base64.b64encode(cert_pem).decode()}
  tls.key: {base64.b64encode(key_pem).decode()}
"""
    ingress = app_manifest("secure", "secure.test", "/", port).replace(
        "spec:\n  rules:", "spec:\n  tls:\n  - hosts: [secure.test]\n    secretName: secure-tls\n  rules:", 1
    )
    other = app_manifest("other", "other.test", "/", port)
    return "---\n".join([secret, ingress, other])


@pytest.fixture
async def tls_server(
    tmp_path: Path, echo_backend: Callable[..., Awaitable[int]]
) -> AsyncIterator[tuple[Server, bytes]]:
    port = await echo_backend("secure")
    cert_pem, key_pem = self_signed("secure.test", names=["secure.test"])
    manifests = tmp_path / "apps.yaml"
    manifests.write_text(tls_manifests(port, cert_pem, key_pem))
    static = StaticConfig(
        entrypoints=(EntryPoint("websecure", "127.0.0.1:0", tls=EntryPointTLS()),),
        manifests=(str(manifests),),
        throttle_seconds=0.01,
    )
    server = Server(
        static,
        ServerParts(providers=[ManifestsProvider([str(manifests)])], tls=CertificateStore()),
    )
    await server.start()
    assert server.watcher is not None
    await server.watcher.wait_applied(1, 10)
    yield server, cert_pem
    await server.stop()


def client_context(cafile_pem: bytes | None, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if cafile_pem is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cadata=cafile_pem.decode())
    if maximum is not None:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = maximum
    return ctx


async def tls_get(server: Server, sni: str, host: str, ctx: ssl.SSLContext) -> tuple[int, bytes, str, bytes]:
    """(status, body, TLS version, served certificate DER) of one raw HTTPS request."""
    hostport = server.state.bound["websecure"]
    addr, _, port = hostport.rpartition(":")
    reader, writer = await asyncio.open_connection(addr, int(port), ssl=ctx, server_hostname=sni)
    ssl_object = writer.get_extra_info("ssl_object")
    version = ssl_object.version()
    der = ssl_object.getpeercert(binary_form=True)
    writer.write(f"GET /hello HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read(-1)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body, version, der


async def test_sni_selects_the_ingress_secret_certificate(tls_server: tuple[Server, bytes]) -> None:
    server, cert_pem = tls_server
    status, body, version, der = await tls_get(server, "secure.test", "secure.test", client_context(cert_pem))
    assert status == 200 and body == b"secure /hello"
    assert version in ("TLSv1.2", "TLSv1.3")
    assert x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM) == cert_pem


async def test_other_names_get_the_default_certificate(tls_server: tuple[Server, bytes]) -> None:
    server, cert_pem = tls_server
    with pytest.raises(ssl.SSLCertVerificationError):
        await tls_get(server, "other.test", "other.test", client_context(cert_pem))
    status, _, _, der = await tls_get(server, "other.test", "other.test", client_context(None))
    assert status == 200
    assert x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM) != cert_pem


async def test_host_not_covered_by_the_sni_certificate_is_421(tls_server: tuple[Server, bytes]) -> None:
    server, cert_pem = tls_server
    url = f"https://{server.state.bound['websecure']}/"
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            url, headers={"Host": "other.test"}, server_hostname="secure.test", ssl=client_context(cert_pem)
        ) as r,
    ):
        assert r.status == 421


async def test_tls_below_1_2_is_refused(tls_server: tuple[Server, bytes]) -> None:
    server, _ = tls_server
    url = f"https://{server.state.bound['websecure']}/"
    ctx = client_context(None, maximum=ssl.TLSVersion.TLSv1_1)
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):
            await s.get(url, headers={"Host": "secure.test"}, server_hostname="secure.test", ssl=ctx)


async def test_ip_literal_sni_counts_as_no_sni(tls_server: tuple[Server, bytes]) -> None:
    """wrk and openssl send the IP as SNI (RFC 6066 forbids it): treated as no SNI, not as a 421."""
    server, _ = tls_server
    proc = await asyncio.create_subprocess_exec(
        "openssl",
        "s_client",
        "-connect",
        server.state.bound["websecure"],
        "-servername",
        "127.0.0.1",
        "-quiet",
        "-ign_eof",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(
        proc.communicate(b"GET /ip HTTP/1.1\r\nHost: secure.test\r\nConnection: close\r\n\r\n"), 10
    )
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    assert out.endswith(b"secure /ip")
