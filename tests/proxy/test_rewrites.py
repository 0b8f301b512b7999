"""Paths, redirects and headers as a client and a real backend see them, on the in-process proxy:
the edge cases the serve test does not cover (the proxy's own answers, TLS detection, websockets)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from ingressctl.model import BasicAuth, RouteMiddlewares
from ingressctl.model.rewrites import HeaderEdit, HttpsRedirect, Rewrites, SecurityHeaders
from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, TablePlan
from ingressctl.proxy.headers import TrustedNetworks
from ingressctl.routing import RoutingTable
from tests.support.ports import free_port

from .conftest import Backend, BackendFactory, ProxyFactory, RunningProxy, route

pytestmark = pytest.mark.timeout(30)

SECURE = SecurityHeaders(sts_seconds=60, frame_deny=True)


def plan(p: RunningProxy, routes: list, https_port: int = 8443) -> None:  # type: ignore[type-arg]
    infos = [EntrypointInfo(name, "http", port) for name, port in p.ports.items()]
    infos.append(EntrypointInfo("websecure", "https", https_port))
    p.proxy.plan = TablePlan(RoutingTable(routes), infos, (), RoutingTable)


def with_rewrites(rewrites: Rewrites, **extra: object) -> RouteMiddlewares:
    return RouteMiddlewares(rewrites=rewrites, **extra)  # type: ignore[arg-type]


async def test_response_headers_reach_the_proxys_own_answers(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """A 401 of the route's auth and a 502 of a dead backend carry the security headers too."""
    b = await backend()
    auth = BasicAuth("r", (("alice", "{SHA}x"),), "test")
    headers = Rewrites(security=SECURE, response_headers=(HeaderEdit("X-Route", "one"),))
    p = await proxy_server()
    plan(
        p,
        [
            route("auth", [b.addr], host="auth.test", middlewares=with_rewrites(headers, basic_auth=auth)),
            route("dead", [("127.0.0.1", free_port())], host="dead.test", middlewares=with_rewrites(headers)),
        ],
    )
    async with aiohttp.ClientSession() as s:
        for host, status in (("auth.test", 401), ("dead.test", 502)):
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                assert r.status == status
                assert (r.headers["X-Frame-Options"], r.headers["X-Route"]) == ("DENY", "one")
                assert "Strict-Transport-Security" not in r.headers  # plain HTTP
    assert b.seen == []


async def test_tls_is_believed_from_trusted_proxies_and_ssl_proxy_headers(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    rewrites = Rewrites(
        https_redirect=HttpsRedirect(301),
        security=SECURE,
        tls_proxy_headers=(("X-Forwarded-Ssl", "on"),),
    )
    p = await proxy_server(
        entrypoints=[
            EntrypointRuntime("web", trusted=TrustedNetworks(["127.0.0.0/8"])),
            EntrypointRuntime("untrusted"),
        ]
    )
    plan(p, [route("r", [b.addr], middlewares=with_rewrites(rewrites))])
    async with aiohttp.ClientSession() as s:
        proto = {"Host": "a.test", "X-Forwarded-Proto": "https"}
        async with s.get(p.url("/x"), headers=proto, allow_redirects=False) as r:
            assert r.status == 200 and r.headers["Strict-Transport-Security"] == "max-age=60"
        async with s.get(p.url("/x", "untrusted"), headers=proto, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (301, "https://a.test:8443/x")
            assert "Strict-Transport-Security" not in r.headers
        ssl_header = {"Host": "a.test", "X-Forwarded-Ssl": "on"}
        async with s.get(p.url("/x", "untrusted"), headers=ssl_header, allow_redirects=False) as r:
            assert r.status == 200 and "Strict-Transport-Security" in r.headers


async def test_ssl_host_and_force_host(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    rewrites = Rewrites(
        https_redirect=HttpsRedirect(307, host="secure.test", force_host=True),
        tls_proxy_headers=(("X-Forwarded-Ssl", "on"),),
    )
    p = await proxy_server()
    plan(p, [route("r", [b.addr], middlewares=with_rewrites(rewrites))])
    async with aiohttp.ClientSession() as s:
        async with s.post(p.url("/p?q"), headers={"Host": "a.test"}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (307, "https://secure.test/p?q")
        over_tls = {"X-Forwarded-Ssl": "on"}
        async with s.get(p.url("/p"), headers={"Host": "other.test", **over_tls}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (307, "https://secure.test/p")
        async with s.get(
            p.url("/p"), headers={"Host": "secure.test", **over_tls}, allow_redirects=False
        ) as r:
            assert r.status == 200


async def test_allowed_hosts_with_and_without_port(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    rewrites = Rewrites(allowed_hosts=("a.test", "b.test:8080"))
    p = await proxy_server()
    plan(p, [route("r", [b.addr], middlewares=with_rewrites(rewrites))])
    async with aiohttp.ClientSession() as s:
        for host, status in (
            ("a.test", 200),
            ("A.TEST:9999", 200),
            ("b.test:8080", 200),
            ("b.test", 421),
            ("c.test", 421),
        ):
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                assert r.status == status, host
    assert len(b.seen) == 3


async def test_request_headers_and_host_reach_a_websocket_backend(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    def ws_route(app: web.Application, state: Backend) -> None:
        async def ws(request: web.Request) -> web.WebSocketResponse:
            socket = web.WebSocketResponse()
            await socket.prepare(request)
            await socket.send_json({"host": request.headers["Host"], "env": request.headers.get("X-Env")})
            await socket.close()
            return socket

        app.router.add_get("/ws", ws)

    b = await backend(extra=ws_route)
    rewrites = Rewrites(request_headers=(HeaderEdit("X-Env", "prod"),), upstream_host="internal.svc")
    p = await proxy_server()
    plan(p, [route("r", [b.addr], middlewares=with_rewrites(rewrites))])
    async with aiohttp.ClientSession() as s, s.ws_connect(p.url("/ws"), headers={"Host": "a.test"}) as ws:
        assert await ws.receive_json() == {"host": "internal.svc", "env": "prod"}


async def test_ssl_force_host_alone_redirects_only_other_hosts(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """unrolled/secure: SSLForceHost without SSLRedirect sends requests for another host to SSLHost."""
    b = await backend()
    rewrites = Rewrites(https_redirect=HttpsRedirect(301, host="secure.test", force_host=True, plain=False))
    p = await proxy_server()
    plan(p, [route("r", [b.addr], middlewares=with_rewrites(rewrites))])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/p"), headers={"Host": "secure.test"}, allow_redirects=False) as r:
            assert r.status == 200
        async with s.get(p.url("/p"), headers={"Host": "other.test"}, allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (301, "https://secure.test/p")


async def test_a_response_header_value_with_a_line_break_never_splits_the_answer(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """Compiled annotations cannot hold one, but the relayed head's shortcuts (pairs checked and
    serialised when the plan is built) must not be what stands between a bad value and the client:
    such a value is refused as aiohttp refuses it, never written."""
    b = await backend()
    bad = Rewrites(security=SECURE, response_headers=(HeaderEdit("X-Route", "one\r\nX-Injected: 1"),))
    good = Rewrites(security=SECURE, response_headers=(HeaderEdit("X-Route", "one"),))
    p = await proxy_server()
    plan(
        p,
        [
            route("bad", [b.addr], host="bad.test", middlewares=with_rewrites(bad)),
            route("good", [b.addr], host="good.test", middlewares=with_rewrites(good)),
        ],
    )
    async with aiohttp.ClientSession() as s, s.get(p.url("/"), headers={"Host": "good.test"}) as r:
        assert (r.status, r.headers["X-Route"], r.headers["X-Frame-Options"]) == (200, "one", "DENY")
    # Read raw: aiohttp's serialiser raises on the value, and the server ends the connection.
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    writer.write(b"GET / HTTP/1.1\r\nHost: bad.test\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert b"X-Injected" not in answer
    assert not answer.startswith(b"HTTP/1.1 200")
    assert len(b.seen) == 2  # the backend answered both: only the proxy's head was refused
