"""The TLS host check (421) is asked once per connection and host, and still decides every request:
on serve's own HTTP/1.1 protocol (which keeps the answers on the connection's protocol object) and on
aiohttp's (answers kept per TLS object, as for HTTP/2 streams)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, Proxy, ProxyOptions, TablePlan
from ingressctl.routing import RoutingTable
from ingressctl.server.protocol import EntrypointRequestHandler
from ingressctl.tls.selfsigned import generate_default_certificate

from .conftest import BackendFactory, route

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server_context(tmp_path: Path) -> ssl.SSLContext:
    cert, key = generate_default_certificate()
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return ctx


class _ServeProtocolServer(web.Server):
    """aiohttp's low-level server with serve's per-connection protocol."""

    def __call__(self) -> RequestHandler:
        return EntrypointRequestHandler(self, loop=self._loop, **self._kwargs)


@pytest.fixture(params=[_ServeProtocolServer, web.Server], ids=["serve-protocol", "aiohttp-protocol"])
async def tls_proxy(
    request: pytest.FixtureRequest, backend: BackendFactory, server_context: ssl.SSLContext
) -> AsyncIterator[tuple[int, list[str]]]:
    b = await backend()
    calls: list[str] = []

    def check(request: BaseRequest, host: str) -> bool:
        calls.append(host)
        return host.startswith("good.")

    proxy = Proxy(ProxyOptions())
    ep = EntrypointRuntime("websecure", scheme="https", host_check=check)
    runner = web.ServerRunner(request.param(proxy.handler(ep), access_log=None), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    table = RoutingTable([route("r", [b.addr])])
    proxy.plan = TablePlan(table, [EntrypointInfo("websecure", "https", port)], (), RoutingTable)
    yield port, calls
    await runner.cleanup()
    await proxy.close()


async def test_host_check_answer_is_kept_per_connection(tls_proxy: tuple[int, list[str]]) -> None:
    port, calls = tls_proxy
    url = f"https://127.0.0.1:{port}/"
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    for _ in range(2):  # two connections, each with several keep-alive requests
        connector = aiohttp.TCPConnector(ssl=client_ctx, limit=1)
        async with aiohttp.ClientSession(connector=connector) as s:
            for _ in range(3):
                async with s.get(url, headers={"Host": "good.example"}) as r:
                    assert r.status == 200
                async with s.get(url, headers={"Host": "evil.example"}) as r:
                    assert r.status == 421
    # Asked once per connection and host, not once per request; refusals are remembered too.
    assert sorted(calls) == ["evil.example", "evil.example", "good.example", "good.example"]
