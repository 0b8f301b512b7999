"""ACME in the server, against Pebble: a TLS host without a Secret gets a certificate and serves it.

The http entrypoint redirects to https and requires basic auth: the HTTP-01 hook must answer first.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from ingressctl.api.metrics import Metrics
from ingressctl.model.config import (
    AcmeConfig,
    EntryPoint,
    EntryPointAuth,
    EntryPointRedirect,
    EntryPointTLS,
    StaticConfig,
)
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.security.htpasswd import apr1
from ingressctl.server import Server, ServerParts
from ingressctl.server.acme import AcmeIntegration
from ingressctl.tls.store import CertificateStore
from tests.pebble import Pebble
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(90)


def acme_server(
    tmp_path: Path, pebble: Pebble, name: str, port: int, http: EntryPoint
) -> tuple[Server, CertificateStore, Metrics]:
    """A server (not started) for NAME.example.test → the backend on PORT, TLS without a Secret,
    certificates from Pebble on host rules; HTTP-01 answered on `http`."""
    host = f"{name}.example.test"
    manifests = tmp_path / "apps.yaml"
    manifests.write_text(
        app_manifest(name, host, "/", port).replace(
            "spec:\n  rules:", f"spec:\n  tls:\n  - hosts: [{host}]\n  rules:", 1
        )
    )
    acme = AcmeConfig(
        email="ops@example.test",
        storage=str(tmp_path / "acme.json"),
        entrypoint="https",
        ca_server=pebble.directory_url,
        ca_bundle=str(pebble.api_ca),
        http_entrypoint=http.name,
        on_host_rule=True,
    )
    static = StaticConfig(
        entrypoints=(http, EntryPoint("https", "127.0.0.1:0", tls=EntryPointTLS())),
        acme=acme,
        manifests=(str(manifests),),
        throttle_seconds=0.01,
    )
    store = CertificateStore()
    metrics = Metrics()
    parts = ServerParts(
        providers=[ManifestsProvider([str(manifests)])],
        tls=store,
        acme=AcmeIntegration(acme, store, metrics=metrics),
    )
    return Server(static, parts), store, metrics


async def test_on_host_rule_certificate_is_issued_and_served(
    tmp_path: Path,
    pebble: Pebble,
    echo_backend: object,
) -> None:
    port = await echo_backend("shop")  # type: ignore[operator]
    http = EntryPoint(
        "http",
        f"127.0.0.1:{pebble.http_port}",
        redirect=EntryPointRedirect("https"),
        auth=EntryPointAuth("edge", (("admin", apr1(b"secret", "saltsalt")),)),
    )
    server, store, metrics = acme_server(tmp_path, pebble, "shop", port, http)
    await server.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not store.has_certificate("shop.example.test"):
            assert loop.time() < deadline, "no ACME certificate within 60 s"
            await asyncio.sleep(0.1)
        ctx = ssl.create_default_context(cafile=str(pebble.root_file()))
        host, _, https_port = server.state.bound["https"].rpartition(":")
        reader, writer = await asyncio.open_connection(
            host, int(https_port), ssl=ctx, server_hostname="shop.example.test"
        )
        writer.write(b"GET /ok HTTP/1.1\r\nHost: shop.example.test\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(-1), 10)
        writer.close()
        assert data.startswith(b"HTTP/1.1 200")
        assert data.endswith(b"shop /ok")
        assert (tmp_path / "acme.json").exists()
        assert b'ingressctl_acme_orders_total{result="valid"} 1.0' in metrics.render()
    finally:
        await server.stop()


async def test_refused_order_is_counted(tmp_path: Path, pebble: Pebble, echo_backend: object) -> None:
    """Pebble's blocklist refuses the name: the order counts as invalid, with the CA's problem code."""
    port = await echo_backend("blocked")  # type: ignore[operator]
    server, store, metrics = acme_server(tmp_path, pebble, "blocked", port, EntryPoint("http", "127.0.0.1:0"))
    await server.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while b'ingressctl_acme_orders_total{result="invalid"} 1.0' not in metrics.render():
            assert loop.time() < deadline, metrics.render().decode()
            await asyncio.sleep(0.1)
        assert b'ingressctl_acme_failures_total{reason="rejectedIdentifier"} 1.0' in metrics.render()
        assert not store.has_certificate("blocked.example.test")
    finally:
        await server.stop()
