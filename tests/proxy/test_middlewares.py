"""Redirects, basic auth, IP allow-lists and the pre-routing hook, as a client sees them."""

from __future__ import annotations

import base64

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model import BackendProblem, BasicAuth, Redirect, RouteMiddlewares
from ingressctl.model.config import EntryPointRedirect
from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, TablePlan
from ingressctl.proxy.plan import Authenticator
from ingressctl.routing import RoutingTable
from ingressctl.security.htpasswd import apr1

from .conftest import BackendFactory, ProxyFactory, RunningProxy, route

pytestmark = pytest.mark.timeout(30)

USERS = (
    ("alice", apr1(b"wonderland", "abcdefgh")),
    ("bob", bcrypt.hashpw(b"builder", bcrypt.gensalt(4)).decode()),
)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def with_https(p: RunningProxy, routes: list, https_port: int = 443) -> None:  # type: ignore[type-arg]
    infos = [EntrypointInfo("web", "http", p.ports["web"]), EntrypointInfo("websecure", "https", https_port)]
    p.proxy.plan = TablePlan(RoutingTable(routes), infos, (), RoutingTable)


async def test_entrypoint_redirect_keeps_path_and_query(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server(entrypoints=[EntrypointRuntime("web", redirect=EntryPointRedirect("websecure"))])
    with_https(p, [route("r", [b.addr])])
    async with (
        aiohttp.ClientSession() as s,
        s.get(p.url("/a/b?c=d"), headers={"Host": "shop.example:8000"}, allow_redirects=False) as r,
    ):
        assert r.status == 302
        assert r.headers["Location"] == "https://shop.example/a/b?c=d"  # default port 443 omitted
    p2 = await proxy_server(
        entrypoints=[EntrypointRuntime("web", redirect=EntryPointRedirect("websecure", permanent=True))]
    )
    with_https(p2, [route("r", [b.addr])], https_port=8443)
    async with aiohttp.ClientSession() as s:
        async with s.get(p2.url("/x"), headers={"Host": "shop.example"}, allow_redirects=False) as r:
            assert r.status == 301
            assert r.headers["Location"] == "https://shop.example:8443/x"
        async with s.post(p2.url("/form"), headers={"Host": "shop.example"}, allow_redirects=False) as r:
            assert r.status == 308
    assert b.seen == []


async def test_route_redirect(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server()
    with_https(
        p,
        [
            route(
                "secure",
                [b.addr],
                host="secure.test",
                middlewares=RouteMiddlewares(redirect=Redirect("websecure")),
            ),
            route("plain", [b.addr], host="plain.test"),
        ],
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/p?q"), headers={"Host": "secure.test"}, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == "https://secure.test/p?q"
        async with s.get(p.url("/p"), headers={"Host": "plain.test"}, allow_redirects=False) as r:
            assert r.status == 200


async def test_route_basic_auth(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    auth = BasicAuth('Private "zone"', USERS, "Secret default/users")
    p = await proxy_server([route("r", [b.addr], middlewares=RouteMiddlewares(basic_auth=auth))])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/")) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="Private \\"zone\\""'
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "wrong")}) as r:
            assert r.status == 401
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "wonderland")}) as r:
            assert r.status == 200
        for _ in range(2):  # bcrypt, verified in a thread, then from the cache
            async with s.get(p.url("/"), headers={"Authorization": basic("bob", "builder")}) as r:
                assert r.status == 200
        async with s.get(p.url("/"), headers={"Authorization": "Bearer abc"}) as r:
            assert r.status == 401
    assert len(b.seen) == 3


async def test_entrypoint_basic_auth(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    ep = EntrypointRuntime("web", auth=Authenticator(USERS, "edge", "entrypoint web"))
    p = await proxy_server([route("r", [b.addr])], entrypoints=[ep])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/")) as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="edge"'
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "wonderland")}) as r:
            assert r.status == 200


async def test_invalid_auth_secret_fails_closed(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr], problem=BackendProblem.AUTH_SECRET_INVALID)])
    async with aiohttp.ClientSession() as s:
        for creds in (None, basic("alice", "wonderland")):
            headers = {"Authorization": creds} if creds else {}
            async with s.get(p.url("/"), headers=headers) as r:
                assert r.status == 503
                assert "WWW-Authenticate" not in r.headers  # no password can work: no prompt
                assert "basic auth is misconfigured" in await r.text()
    assert b.seen == []


async def test_source_range_allow_list(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server(
        [
            route(
                "lan",
                [b.addr],
                host="lan.test",
                middlewares=RouteMiddlewares(allow_source_ranges=("10.0.0.0/8", "192.168.0.0/16")),
            ),
            route(
                "local",
                [b.addr],
                host="local.test",
                middlewares=RouteMiddlewares(allow_source_ranges=("127.0.0.1/32",)),
            ),
        ]
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/"), headers={"Host": "lan.test"}) as r:
            assert r.status == 403
        async with s.get(p.url("/"), headers={"Host": "local.test"}) as r:
            assert r.status == 200


async def test_pre_routing_hook_runs_before_redirect_and_auth(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    ep = EntrypointRuntime(
        "web", redirect=EntryPointRedirect("websecure"), auth=Authenticator(USERS, "edge", "entrypoint web")
    )
    p = await proxy_server(entrypoints=[ep])
    with_https(p, [route("r", [b.addr])])

    async def acme(request: BaseRequest, entrypoint: str) -> StreamResponse | None:
        if request.path.startswith("/.well-known/acme-challenge/"):
            return web.Response(text=f"token-{entrypoint}")
        return None

    p.proxy.hooks.append(acme)
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/.well-known/acme-challenge/abc"), allow_redirects=False) as r:
            assert r.status == 200 and await r.text() == "token-web"
        async with s.get(p.url("/other"), allow_redirects=False) as r:
            assert r.status == 302


async def test_invalid_allow_list_fails_closed(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr], problem=BackendProblem.ACCESS_RULE_INVALID)])
    async with aiohttp.ClientSession() as s, s.get(p.url("/")) as r:
        assert r.status == 403
    assert b.seen == []
