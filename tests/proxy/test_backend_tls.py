"""HTTPS backends through the real compiler and the real proxy: certificates verified against a
configured CA (or the system's), SNI the Service's DNS name, and verification turned off on request."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from ingressctl.model import EndpointPort, HostKind, ObjectMeta, Service, ServicePort, Snapshot
from ingressctl.routing import CompileOptions, compile
from tests.routing.builders import endpoint_slice, ep, ingress, path, rule, secret
from tests.tls.conftest import CA

from .conftest import ProxyFactory

pytestmark = pytest.mark.timeout(60)
NGINX = "nginx.ingress.kubernetes.io/"

TLSBackend = Callable[[bytes, bytes], Awaitable[tuple[int, list[str]]]]


@pytest.fixture
async def tls_backend(tmp_path: Path) -> AsyncIterator[TLSBackend]:
    """An aiohttp backend over TLS on 127.0.0.1 with the given certificate; records the SNI it saw."""
    runners: list[web.AppRunner] = []

    async def start(chain: bytes, key: bytes) -> tuple[int, list[str]]:
        (tmp_path / "c.pem").write_bytes(chain)
        (tmp_path / "k.pem").write_bytes(key)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
        names: list[str] = []
        ctx.sni_callback = lambda _sock, name, _ctx: names.append(name or "") and None

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text=f"secure {request.path}")

        app = web.Application()
        app.router.add_get("/{tail:.*}", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        runners.append(runner)
        assert site._server is not None
        return site._server.sockets[0].getsockname()[1], names  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


def compiled(port: int, annotations: dict[str, str], ca_pem: bytes = b""):  # type: ignore[no-untyped-def]
    svc = Service(ObjectMeta("web", "shop"), ports=(ServicePort(443, "https", port),))
    snapshot = Snapshot(
        ingresses=(
            ingress(
                "app",
                rule(None, path("/", None, service="web", port=443)),
                ns="shop",
                annotations=annotations,
            ),
        ),
        services=(svc,),
        endpoint_slices=(
            endpoint_slice("web", ep("127.0.0.1"), ns="shop", ports=(EndpointPort(port, "https"),)),
        ),
        secrets=(secret("backend-ca", {"ca.crt": ca_pem}, ns="shop"),) if ca_pem else (),
    )
    table, _ = compile(snapshot, CompileOptions())
    return table.routes


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


async def test_backend_certificate_verified_against_the_configured_ca(
    tls_backend: TLSBackend, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ca = CA("backend CA")
    port, names = await tls_backend(*ca.issue(["web.shop.svc"]))
    annotations = {NGINX + "backend-protocol": "HTTPS", NGINX + "proxy-ssl-secret": "backend-ca"}
    p = await proxy_server(compiled(port, annotations, ca.pem))
    assert await get(p.url("/x")) == (200, "secure /x")
    assert names == ["web.shop.svc"]  # SNI: the Service's DNS name

    # Another CA's certificate: refused before any byte of the request is sent, 502 and a clear log line.
    other = CA("someone else")
    port2, _ = await tls_backend(*other.issue(["web.shop.svc"]))
    p2 = await proxy_server(compiled(port2, annotations, ca.pem))
    with caplog.at_level(logging.WARNING):
        status, _ = await get(p2.url("/x"))
    assert status == 502
    assert "certificate of web.shop.svc could not be verified" in caplog.text

    # A certificate of the right CA for another name: refused too.
    port3, _ = await tls_backend(*ca.issue(["other.shop.svc"]))
    p3 = await proxy_server(compiled(port3, annotations, ca.pem))
    assert (await get(p3.url("/x")))[0] == 502


async def test_system_cas_by_default_and_insecure_skip_verify_on_request(
    tls_backend: TLSBackend, proxy_server: ProxyFactory
) -> None:
    private = CA("private CA")
    port, _ = await tls_backend(*private.issue(["web.shop.svc"]))
    # HTTPS without a CA: the system's CAs do not know this one.
    p = await proxy_server(compiled(port, {NGINX + "backend-protocol": "HTTPS"}))
    assert (await get(p.url("/")))[0] == 502
    # Verification turned off explicitly (ingress-nginx proxy-ssl-verify: off): encrypted, not verified.
    insecure = {"ingress.kubernetes.io/protocol": "https", NGINX + "proxy-ssl-verify": "off"}
    p2 = await proxy_server(compiled(port, insecure))
    assert await get(p2.url("/y")) == (200, "secure /y")
    # The same address verified and not, in one proxy: the idle connection of the unverified route
    # never serves the verified one.
    [verified] = compiled(port, {NGINX + "backend-protocol": "HTTPS"})
    [unverified] = compiled(port, insecure)
    both = [
        dataclasses.replace(unverified, id="open", host="open.test", host_kind=HostKind.EXACT),
        dataclasses.replace(verified, id="strict", host="strict.test", host_kind=HostKind.EXACT),
    ]
    p3 = await proxy_server(both)
    async with aiohttp.ClientSession() as s:
        async with s.get(p3.url("/"), headers={"Host": "open.test"}) as r:
            assert r.status == 200
        async with s.get(p3.url("/"), headers={"Host": "strict.test"}) as r:
            assert r.status == 502
