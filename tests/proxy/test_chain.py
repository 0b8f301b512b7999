"""A route's middleware chain: built once with the plan, in the order `routes --explain` shows, and
applied in that order (allow-list, redirect, basic auth, strip-prefix) as a client sees it."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from ingressctl.model import BasicAuth, Redirect, Route, RouteMiddlewares
from ingressctl.proxy import EntrypointRuntime
from ingressctl.routing.chain import route_chain
from ingressctl.security.htpasswd import apr1

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)

USERS = (("alice", apr1(b"wonderland", "abcdefgh")),)
ALICE = "Basic " + base64.b64encode(b"alice:wonderland").decode()


def guarded(rid: str, upstream: tuple[str, int], host: str, source_range: str) -> Route:
    return route(
        rid,
        [upstream],
        host=host,
        path="/app",
        middlewares=RouteMiddlewares(
            redirect=Redirect("websecure"),
            basic_auth=BasicAuth("staff", USERS, "Secret default/staff"),
            allow_source_ranges=(source_range,),
        ),
        strip_prefix=True,
    )


async def test_the_chain_runs_in_the_order_the_plan_describes(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server(entrypoints=[EntrypointRuntime("web"), EntrypointRuntime("websecure")])
    inside = guarded("inside", b.addr, "inside.test", "127.0.0.0/8")
    outside = guarded("outside", b.addr, "outside.test", "10.0.0.0/8")
    p.set_routes([inside, outside])
    assert p.proxy.plan is not None
    plan = p.proxy.plan.routes["inside"]
    expected = ["ip-allow-list", "redirect", "basic-auth", "strip-prefix"]
    assert [spec.name for spec in route_chain(inside)] == expected
    assert [m.name for m in plan.chain] == expected  # built once, from the same specs
    async with aiohttp.ClientSession() as s:
        # Allow-list first: a client outside the ranges is refused before any redirect or challenge.
        async with s.get(p.url("/app/x"), headers={"Host": "outside.test"}, allow_redirects=False) as r:
            assert r.status == 403
        # Redirect before auth: no credentials asked for on the way to the other entrypoint.
        async with s.get(p.url("/app/x?q=1"), headers={"Host": "inside.test"}, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"].endswith("/app/x?q=1")
        # On its redirect target the redirect steps aside, and auth asks.
        url = p.url("/app/x?q=1", entrypoint="websecure")
        async with s.get(url, headers={"Host": "inside.test"}) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="staff"'
        assert b.seen == []
        # Through every stage: the prefix is gone upstream, the query kept.
        async with s.get(url, headers={"Host": "inside.test", "Authorization": ALICE}) as r:
            assert r.status == 200
    assert [seen["path_qs"] for seen in b.seen] == ["/x?q=1"]


async def test_a_plain_route_has_an_empty_chain(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server()
    p.set_routes([route("plain", [b.addr])])
    assert p.proxy.plan is not None
    assert p.proxy.plan.routes["plain"].chain == ()
    async with aiohttp.ClientSession() as s, s.get(p.url("/y")) as r:
        assert r.status == 200
