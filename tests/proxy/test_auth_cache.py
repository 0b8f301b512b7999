"""Basic auth remembers verified Authorization headers (bcrypt runs once per client, not per
request), keeps only a bounded number of them, never remembers a refused one, and forgets them all
when the user table changes."""

from __future__ import annotations

import base64
import hashlib

import aiohttp
import bcrypt
import pytest

from ingressctl.model import BasicAuth, RouteMiddlewares
from ingressctl.proxy.middlewares.basic_auth import VERIFIED_KEPT, Authenticator
from ingressctl.security import htpasswd

from .conftest import BackendFactory, ProxyFactory, RunningProxy, route

pytestmark = pytest.mark.timeout(60)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def sha1_hash(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def authenticator_of(p: RunningProxy, route_id: str) -> Authenticator:
    assert p.proxy.plan is not None
    found = [m for m in p.proxy.plan.routes[route_id].chain if isinstance(m, Authenticator)]
    assert len(found) == 1
    return found[0]


async def test_a_verified_header_is_remembered_and_a_refused_one_is_not(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    users = (("bob", bcrypt.hashpw(b"builder", bcrypt.gensalt(4)).decode()),)
    p = await proxy_server(
        [route("r", [b.addr], middlewares=RouteMiddlewares(basic_auth=BasicAuth("", users, "test")))]
    )
    auth = authenticator_of(p, "r")
    htpasswd.clear_cache()
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(p.url("/"), headers={"Authorization": basic("bob", "nope")}) as r:
                assert r.status == 401
        assert auth.remembered == 0
        for _ in range(5):
            async with s.get(p.url("/"), headers={"Authorization": basic("bob", "builder")}) as r:
                assert r.status == 200
        assert auth.remembered == 1  # one header, verified once
        # The same credentials written differently are verified on their own, and still pass.
        async with s.get(p.url("/"), headers={"Authorization": "basic " + basic("bob", "builder")[6:]}) as r:
            assert r.status == 200
        assert auth.remembered == 2
        # A remembered header does not open the door to anything else.
        async with s.get(p.url("/"), headers={"Authorization": basic("bob", "builder ")}) as r:
            assert r.status == 401
    assert len(b.seen) == 6


async def test_a_changed_user_table_forgets_remembered_headers(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()

    def routes(password: str) -> list:  # type: ignore[type-arg]
        users = (("alice", sha1_hash(password)),)
        return [route("r", [b.addr], middlewares=RouteMiddlewares(basic_auth=BasicAuth("", users, "test")))]

    p = await proxy_server(routes("old password"))
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "old password")}) as r:
            assert r.status == 200
        p.set_routes(routes("new password"))  # the Secret changed: a new plan
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "old password")}) as r:
            assert r.status == 401
        async with s.get(p.url("/"), headers={"Authorization": basic("alice", "new password")}) as r:
            assert r.status == 200


async def test_remembered_headers_are_bounded_oldest_first(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    count = VERIFIED_KEPT + 20
    users = tuple((f"user{n}", sha1_hash(f"pw{n}")) for n in range(count))
    p = await proxy_server(
        [route("r", [b.addr], middlewares=RouteMiddlewares(basic_auth=BasicAuth("", users, "test")))]
    )
    auth = authenticator_of(p, "r")
    async with aiohttp.ClientSession() as s:
        for n in range(count):
            async with s.get(p.url("/"), headers={"Authorization": basic(f"user{n}", f"pw{n}")}) as r:
                assert r.status == 200
            assert auth.remembered == min(n + 1, VERIFIED_KEPT)
        # The first users were forgotten, not locked out: verified again, they pass.
        async with s.get(p.url("/"), headers={"Authorization": basic("user0", "pw0")}) as r:
            assert r.status == 200
        assert auth.remembered == VERIFIED_KEPT
