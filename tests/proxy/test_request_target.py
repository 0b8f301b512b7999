"""What a request asks for (Host, target form, Upgrade, Expect) and what the client gets back unchanged."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from ingressctl.model import Redirect, RouteMiddlewares
from ingressctl.model.config import EntryPointRedirect
from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, TablePlan
from ingressctl.proxy.headers import TrustedNetworks
from ingressctl.routing import RoutingTable

from .conftest import Backend, BackendFactory, ProxyFactory, RunningProxy, route

pytestmark = pytest.mark.timeout(30)


async def exchange(p: RunningProxy, raw: bytes, entrypoint: str = "web") -> tuple[str, dict[str, str], bytes]:
    """Send one raw request (Connection: close), return the status line, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports[entrypoint])
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(-1), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


async def test_absolute_form_is_routed_by_its_authority(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """A client using the proxy as its HTTP proxy sends `GET http://host/path`: the target's host wins
    over the Host header (RFC 9112 3.2.2), and the backend gets origin form and that Host."""
    shop, other = await backend("shop"), await backend("other")
    p = await proxy_server(
        [route("shop", [shop.addr], host="shop.test"), route("other", [other.addr], host="x.test")]
    )
    status, _, body = await exchange(
        p, b"GET http://shop.test/abs?q=1 HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 200 OK"
    seen = json.loads(body)
    assert seen["backend"] == "shop" and seen["path_qs"] == "/abs?q=1"
    assert dict(seen["headers"])["Host"] == "shop.test"
    assert other.seen == []


@pytest.mark.parametrize(
    "host_lines",
    [
        b"Host: shop.test:8080, x.test\r\n",  # two hosts in one
        b"Host: shop.test:abc\r\n",  # port not a number
        b"Host: shop test\r\n",
        b"Host: shop.test\r\nHost: x.test\r\n",  # two Host headers
        b"",  # HTTP/1.1 requires one
    ],
    ids=["comma", "port", "space", "twice", "missing"],
)
async def test_invalid_host_is_400(
    host_lines: bytes, backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("any", [b.addr])])  # a catch-all route: nothing is 404
    status, _, _ = await exchange(p, b"GET / HTTP/1.1\r\n" + host_lines + b"Connection: close\r\n\r\n")
    assert status.split()[1] == "400"
    assert b.seen == []


async def test_host_with_port_and_ip_literal_are_valid(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("any", [b.addr])])
    for host in (b"shop.test:8080", b"[::1]:8080", b"127.0.0.1"):
        status, _, _ = await exchange(
            p, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
        )
        assert status == "HTTP/1.1 200 OK", host
    # HTTP/1.0 has no Host requirement.
    status, _, _ = await exchange(p, b"GET / HTTP/1.0\r\n\r\n")
    assert status.endswith("200 OK")


async def test_upgrade_without_connection_upgrade_is_an_ordinary_request(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("any", [b.addr])])
    status, _, body = await exchange(
        p, b"GET /ws HTTP/1.1\r\nHost: shop.test\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n"
    )
    assert status == "HTTP/1.1 200 OK"
    sent = {k.lower() for k, _ in json.loads(body)["headers"]}
    assert "upgrade" not in sent  # hop-by-hop: not forwarded


async def test_response_headers_are_not_filled_in(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """No Content-Type or Server the upstream did not send (browsers would sniff or download the body)."""

    def bare(app: web.Application, _: Backend) -> None:
        async def untyped(request: web.Request) -> web.StreamResponse:
            # Raw bytes on the wire: aiohttp as a backend would add both headers itself.
            assert request.transport is not None
            request.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            request.transport.close()
            await asyncio.sleep(0.05)
            return web.Response()

        app.router.add_get("/untyped", untyped)

    b = await backend(extra=bare)
    p = await proxy_server([route("any", [b.addr])])
    async with aiohttp.ClientSession() as s, s.get(p.url("/untyped")) as r:
        assert r.status == 200 and await r.read() == b"hello"
        assert "Content-Type" not in r.headers
        assert "Server" not in r.headers
    async with aiohttp.ClientSession() as s, s.get(p.url("/typed")) as r:
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"  # what the backend sent


async def test_http10_expect_continue_is_ignored(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("any", [b.addr])])
    status, _, body = await exchange(
        p,
        b"POST /up HTTP/1.0\r\nHost: shop.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    )
    assert status == "HTTP/1.0 200 OK"  # no interim 100 before it: an HTTP/1.0 client cannot take one
    assert json.loads(body)["body_len"] == 3


def with_https(p: RunningProxy, routes: list, https_port: int = 443) -> None:  # type: ignore[type-arg]
    infos = [EntrypointInfo(name, "http", port) for name, port in p.ports.items()] + [
        EntrypointInfo("websecure", "https", https_port)
    ]
    p.proxy.plan = TablePlan(RoutingTable(routes), infos, (), RoutingTable)


async def test_redirects_skip_requests_a_trusted_proxy_says_arrived_over_https(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """Behind a TLS-terminating load balancer (trusted), ssl-redirect would loop forever."""
    b = await backend()
    trusted = TrustedNetworks(["127.0.0.0/8"])
    p = await proxy_server(
        entrypoints=[
            EntrypointRuntime("web", trusted=trusted),
            EntrypointRuntime("untrusted"),
            EntrypointRuntime("edge", trusted=trusted, redirect=EntryPointRedirect("websecure")),
        ]
    )
    with_https(p, [route("s", [b.addr], middlewares=RouteMiddlewares(redirect=Redirect("websecure")))])
    https = {"X-Forwarded-Proto": "https"}
    async with aiohttp.ClientSession() as s:
        for entrypoint in ("web", "edge"):
            async with s.get(p.url("/p", entrypoint), headers=https, allow_redirects=False) as r:
                assert r.status == 200, entrypoint
            async with s.get(p.url("/p", entrypoint), allow_redirects=False) as r:
                assert r.status == 302, entrypoint
            async with s.get(
                p.url("/p", entrypoint), headers={"X-Forwarded-Proto": "http"}, allow_redirects=False
            ) as r:
                assert r.status == 302, entrypoint
        # From a peer that is not trusted, the header means nothing.
        async with s.get(p.url("/p", "untrusted"), headers=https, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"].startswith("https://")


async def test_transfer_codings_other_than_chunked_are_501(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """aiohttp would undo the chunked framing and the gzip coding would be lost on the way."""
    b = await backend()
    p = await proxy_server([route("any", [b.addr])])
    body = b"3\r\nabc\r\n0\r\n\r\n"
    status, _, _ = await exchange(
        p,
        b"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n"
        + body,
    )
    assert status.split()[1] == "501"
    status, _, answer = await exchange(
        p,
        b"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body,
    )
    assert status == "HTTP/1.1 200 OK" and json.loads(answer)["body_len"] == 3
    assert len(b.seen) == 1


async def test_the_proxys_own_answers_do_not_name_its_software(proxy_server: ProxyFactory) -> None:
    p = await proxy_server([route("only", [("127.0.0.1", 9)], host="a.test")])
    async with aiohttp.ClientSession() as s, s.get(p.url("/"), headers={"Host": "b.test"}) as r:
        assert r.status == 404
        assert "Server" not in r.headers  # not "Python/3.x aiohttp/3.x"
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
