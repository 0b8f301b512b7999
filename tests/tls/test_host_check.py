"""The 421 check as the proxy uses it: an aiohttp server on the store's context, a real client."""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp import web

from ingressctl.model import ObjectRef, TLSCertificate
from ingressctl.model.config import EntryPoint, EntryPointTLS
from ingressctl.tls.store import CertificateStore
from tests.tls.conftest import CA


async def test_misdirected_requests_are_detected_through_aiohttp(ca: CA) -> None:
    store = CertificateStore()
    cert, key = ca.issue(["a.example.test", "*.apps.example.test"])
    store.update([TLSCertificate(("a.example.test",), ObjectRef("Secret", "default", "a"), cert, key)])
    entrypoint = EntryPoint("https", "127.0.0.1:0", tls=EntryPointTLS(min_version="1.2"))
    assert store.host_check(EntryPoint("http", ":0")) is None  # plain HTTP: nothing to check
    check = store.host_check(entrypoint)
    assert check is not None

    async def handler(request: web.BaseRequest) -> web.Response:
        if not check(request, request.host):
            return web.Response(status=421, text="misdirected\n")
        return web.Response(text="ok\n")

    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=store.ssl_context(entrypoint))
    await site.start()
    port = runner.addresses[0][1]
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            url = f"https://127.0.0.1:{port}/"

            async def status(sni: str, host: str) -> int:
                async with session.get(
                    url, ssl=client_ctx, server_hostname=sni, headers={"Host": host}
                ) as response:
                    return response.status

            assert await status("a.example.test", "a.example.test") == 200
            assert await status("a.example.test", "x.apps.example.test") == 200  # the certificate covers it
            assert await status("a.example.test", "b.example.test") == 421
            assert await status("unknown.test", "unknown.test") == 200  # default certificate, Host == SNI
    finally:
        await runner.cleanup()
