"""Forward auth, deny-lists, the X-Forwarded-For allow-list, rate and in-flight limits and the
auth headers, as a client sees them through a real proxy, with real backends and a real auth
service on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ingressctl.api.metrics import Metrics
from ingressctl.model import BasicAuth, RouteMiddlewares
from ingressctl.model.access import (
    AccessControls,
    AuthStyle,
    ForwardAuth,
    InFlightLimit,
    RateLimit,
    RateSet,
    SourceKey,
    SourceKind,
)
from ingressctl.proxy import EntrypointRuntime
from ingressctl.proxy.headers import TrustedNetworks
from ingressctl.security.htpasswd import apr1
from tests.support.polling import eventually
from tests.support.ports import free_port

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(60)


@dataclass
class AuthService:
    """A real auth service: /ok grants (X-Auth-User: alice), /deny 401, /forbid 403, /broken 500."""

    port: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def auth_service() -> AsyncIterator[AuthService]:
    state = AuthService()

    async def answer(request: web.Request) -> web.Response:
        state.seen.append(
            {"method": request.method, "headers": dict(request.headers), "path": request.path_qs}
        )
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            state.peers.add((peer[0], peer[1]))
        name = request.match_info["name"]
        if name == "ok":
            return web.Response(text="ok", headers={"X-Auth-User": "alice", "X-Other": "not copied"})
        if name == "deny":
            return web.Response(
                status=401,
                text="log in first",
                headers={"WWW-Authenticate": 'Bearer realm="sso"', "X-Reason": "no session"},
            )
        if name == "forbid":
            return web.Response(status=403, text="not you")
        return web.Response(status=500, text="oops")

    app = web.Application()
    app.router.add_route("*", "/{name}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


def access(**controls: Any) -> RouteMiddlewares:
    return RouteMiddlewares(access=AccessControls(**controls))


def traefik_auth(url: str, *headers: str, trust: bool = False) -> RouteMiddlewares:
    return access(
        forward_auth=ForwardAuth(
            url, AuthStyle.TRAEFIK, response_headers=headers, trust_forward_headers=trust
        )
    )


def nginx_auth(url: str, signin: str = "") -> RouteMiddlewares:
    return access(
        forward_auth=ForwardAuth(url, AuthStyle.NGINX, response_headers=("X-Auth-User",), signin=signin)
    )


def seen_headers(info: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in info["headers"]}


# ------------------------------------------------------------------ forward auth


async def test_traefik_forward_auth_grants_and_copies_headers(
    backend: BackendFactory, proxy_server: ProxyFactory, auth_service: AuthService
) -> None:
    b = await backend()
    p = await proxy_server(
        [route("r", [b.addr], middlewares=traefik_auth(auth_service.url("/ok"), "X-Auth-User"))]
    )
    async with aiohttp.ClientSession() as s:
        for _ in range(3):  # the auth connection is reused: no new connection per request
            headers = {"Host": "app.test", "X-Auth-User": "mallory", "Cookie": "session=1"}
            async with s.get(p.url("/orders?id=7"), headers=headers) as r:
                assert r.status == 200
    upstream = seen_headers(b.seen[-1])
    assert upstream["x-auth-user"] == "alice"  # the auth service's word, not the client's
    assert "x-other" not in upstream
    asked = auth_service.seen[-1]
    assert asked["method"] == "GET" and asked["path"] == "/ok"
    sent = {k.lower(): v for k, v in asked["headers"].items()}
    assert sent["cookie"] == "session=1"  # the client's headers go to the auth service
    assert sent["x-forwarded-method"] == "GET"
    assert sent["x-forwarded-uri"] == "/orders?id=7"
    assert sent["x-forwarded-host"] == "app.test"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-for"] == "127.0.0.1"


async def test_header_the_auth_service_does_not_send_never_comes_from_the_client(
    backend: BackendFactory, proxy_server: ProxyFactory, auth_service: AuthService
) -> None:
    b = await backend()
    mw = traefik_auth(auth_service.url("/ok"), "X-Auth-Roles")
    p = await proxy_server([route("r", [b.addr], middlewares=mw)])
    async with aiohttp.ClientSession() as s, s.get(p.url("/"), headers={"X-Auth-Roles": "admin"}) as r:
        assert r.status == 200
    assert "x-auth-roles" not in seen_headers(b.seen[-1])


async def test_traefik_forward_auth_returns_other_answers_as_they_are(
    backend: BackendFactory, proxy_server: ProxyFactory, auth_service: AuthService
) -> None:
    b = await backend()
    p = await proxy_server(
        [
            route("deny", [b.addr], host="deny.test", middlewares=traefik_auth(auth_service.url("/deny"))),
            route(
                "forbid", [b.addr], host="forbid.test", middlewares=traefik_auth(auth_service.url("/forbid"))
            ),
        ]
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/"), headers={"Host": "deny.test"}) as r:
            assert r.status == 401
            assert await r.text() == "log in first"
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="sso"'
            assert r.headers["X-Reason"] == "no session"
        async with s.get(p.url("/"), headers={"Host": "forbid.test"}) as r:
            assert (r.status, await r.text()) == (403, "not you")
    assert b.seen == []


async def test_nginx_forward_auth_semantics(
    backend: BackendFactory, proxy_server: ProxyFactory, auth_service: AuthService
) -> None:
    """ingress-nginx (user guide, annotations, External Authentication): 401 and 403 are returned,
    a 401 redirects to auth-signin with the original URL in rd; anything else is a 500."""
    b = await backend()
    signin = "https://login.test/start"
    p = await proxy_server(
        [
            route("ok", [b.addr], host="ok.test", middlewares=nginx_auth(auth_service.url("/ok"))),
            route("deny", [b.addr], host="deny.test", middlewares=nginx_auth(auth_service.url("/deny"))),
            route(
                "signin", [b.addr], host="in.test", middlewares=nginx_auth(auth_service.url("/deny"), signin)
            ),
            route(
                "var",
                [b.addr],
                host="var.test",
                middlewares=nginx_auth(
                    auth_service.url("/deny"), "https://$host/oauth2/start?rd=$escaped_request_uri"
                ),
            ),
            route(
                "forbid", [b.addr], host="forbid.test", middlewares=nginx_auth(auth_service.url("/forbid"))
            ),
            route(
                "broken", [b.addr], host="broken.test", middlewares=nginx_auth(auth_service.url("/broken"))
            ),
        ]
    )
    async with aiohttp.ClientSession() as s:

        async def get(host: str) -> aiohttp.ClientResponse:
            async with s.get(p.url("/a b/?x=1"), headers={"Host": host}, allow_redirects=False) as r:
                await r.read()
                return r

        assert (await get("ok.test")).status == 200
        sent = {k.lower(): v for k, v in auth_service.seen[-1]["headers"].items()}
        assert sent["x-original-url"] == "http://ok.test/a%20b/?x=1"
        assert sent["x-original-method"] == "GET"
        assert sent["x-auth-request-redirect"] == "/a%20b/?x=1"
        assert sent["x-real-ip"] == "127.0.0.1"
        assert seen_headers(b.seen[-1])["x-auth-user"] == "alice"
        denied = await get("deny.test")
        assert denied.status == 401 and denied.headers["WWW-Authenticate"] == 'Bearer realm="sso"'
        redirected = await get("in.test")
        assert redirected.status == 302
        assert redirected.headers["Location"] == signin + "?rd=http://in.test/a%2520b/%3Fx%3D1"
        expanded = await get("var.test")
        assert expanded.headers["Location"] == "https://var.test/oauth2/start?rd=/a%2520b/%3Fx%3D1"
        assert (await get("forbid.test")).status == 403
        assert (await get("broken.test")).status == 500
    assert len(b.seen) == 1


async def test_forward_auth_down_fails_closed(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    down = f"http://127.0.0.1:{free_port()}/verify"
    p = await proxy_server(
        [
            route("t", [b.addr], host="t.test", middlewares=traefik_auth(down)),
            route("n", [b.addr], host="n.test", middlewares=nginx_auth(down)),
        ]
    )
    async with aiohttp.ClientSession() as s:
        for host in ("t.test", "n.test"):
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                assert r.status == 503
                assert "authentication service did not answer" in await r.text()
    assert b.seen == []


async def test_auth_headers_after_basic_auth(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    auth = BasicAuth("staff", (("alice", apr1(b"wonderland", "abcdefgh")),), "Secret default/users")
    mw = RouteMiddlewares(
        basic_auth=auth, access=AccessControls(auth_user_header="X-WebAuth-User", remove_authorization=True)
    )
    p = await proxy_server([route("r", [b.addr], middlewares=mw)])
    creds = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": creds, "X-WebAuth-User": "root"}
        async with s.get(p.url("/"), headers=headers) as r:
            assert r.status == 200
    upstream = seen_headers(b.seen[-1])
    assert upstream["x-webauth-user"] == "alice"
    assert "authorization" not in upstream


# ------------------------------------------------------------------ deny list, X-Forwarded-For allow-list


async def test_deny_list(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server(
        [
            route(
                "loop", [b.addr], host="loop.test", middlewares=access(deny_source_ranges=("127.0.0.0/8",))
            ),
            route(
                "other", [b.addr], host="other.test", middlewares=access(deny_source_ranges=("10.0.0.0/8",))
            ),
        ]
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/"), headers={"Host": "loop.test"}) as r:
            assert r.status == 403
        async with s.get(p.url("/"), headers={"Host": "other.test"}) as r:
            assert r.status == 200
    assert len(b.seen) == 1


async def test_allow_list_on_x_forwarded_for_from_trusted_proxies_only(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    mw = RouteMiddlewares(
        allow_source_ranges=("10.0.0.0/8",), access=AccessControls(allow_forwarded_for=True)
    )
    trusted = EntrypointRuntime("web", trusted=TrustedNetworks(["127.0.0.1/32"]))
    untrusted = EntrypointRuntime("other")
    p = await proxy_server([route("r", [b.addr], middlewares=mw)], entrypoints=[trusted, untrusted])
    async with aiohttp.ClientSession() as s:

        async def status(entrypoint: str, xff: str) -> int:
            async with s.get(p.url("/", entrypoint), headers={"X-Forwarded-For": xff}) as r:
                return r.status

        assert await status("web", "10.1.2.3") == 200
        assert await status("web", "192.0.2.1") == 403
        # The rightmost untrusted hop decides: what the client wrote before it proves nothing.
        assert await status("web", "10.1.2.3, 192.0.2.1") == 403
        assert await status("web", "192.0.2.1, 10.1.2.3, 127.0.0.1") == 200
        # From a peer that is not trusted, X-Forwarded-For is the client's own claim: ignored.
        assert await status("other", "10.1.2.3") == 403


# ------------------------------------------------------------------ rate limits


def rate(average: int, period: float, burst: int, status: int = 429, **kw: Any) -> RouteMiddlewares:
    limit = RateLimit(
        SourceKey(kw.pop("kind", SourceKind.CLIENT_IP), kw.pop("header", "")),
        (RateSet("r", period, average, burst),),
        status,
        **kw,
    )
    return access(rate_limit=limit)


async def test_rate_limit_429_with_retry_after_and_counted_per_route(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    metrics = Metrics()
    p = await proxy_server(
        [
            route("limited", [b.addr], host="limited.test", middlewares=rate(1, 60.0, 3)),
            route("nginx", [b.addr], host="nginx.test", middlewares=rate(1, 60.0, 1, status=503)),
            route(
                "exempt", [b.addr], host="exempt.test", middlewares=rate(1, 60.0, 1, exempt=("127.0.0.0/8",))
            ),
        ],
        observer=metrics,
    )
    async with aiohttp.ClientSession() as s:

        async def get(host: str) -> aiohttp.ClientResponse:
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                await r.read()
                return r

        assert [(await get("limited.test")).status for _ in range(3)] == [200, 200, 200]  # the burst
        refused = await get("limited.test")
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert [(await get("nginx.test")).status for _ in range(2)] == [200, 503]
        assert [(await get("exempt.test")).status for _ in range(3)] == [200, 200, 200]
    text = metrics.render().decode()
    assert (
        'ingressctl_middleware_refused_requests_total{entrypoint="web",router="limited",'
        'service="default/limited:80",middleware="rate-limit"} 1.0'
    ) in text
    assert 'router="nginx",service="default/nginx:80",middleware="rate-limit"} 1.0' in text
    assert 'router="exempt"' not in text.split("ingressctl_middleware_refused_requests_total")[-1]


async def test_rate_limit_per_header_and_per_host(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server(
        [route("r", [b.addr], middlewares=rate(1, 60.0, 1, kind=SourceKind.HEADER, header="X-Api-Key"))]
    )
    async with aiohttp.ClientSession() as s:

        async def status(key: str | None) -> int:
            async with s.get(p.url("/"), headers={"X-Api-Key": key} if key else {}) as r:
                return r.status

        assert [await status("a"), await status("b"), await status("a"), await status("b")] == [
            200,
            200,
            429,
            429,
        ]
        assert [await status(None), await status(None)] == [200, 429]  # no header: one shared bucket


async def test_rate_limit_holds_its_rate_within_5_percent(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """50 requests/s with bursts of 50, asked for faster than that: over at least 10 s, from one
    refusal (an empty bucket) to another, what passes is the configured rate within ±5 %. The burst
    of a second keeps the noise of a shared machine (a stalled client) out of the figure."""
    b = await backend()
    average = 50
    p = await proxy_server([route("r", [b.addr], middlewares=rate(average, 1.0, average))])
    loop = asyncio.get_running_loop()
    answers: list[tuple[float, int]] = []  # (when the answer came, status), in arrival order
    stop = asyncio.Event()

    async def client(s: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            async with s.get(p.url("/")) as r:
                await r.read()
                assert r.status in (200, 429)
                answers.append((loop.time(), r.status))

    def refused_after(moment: float) -> int | None:
        return next((i for i, (t, st) in enumerate(answers) if st == 429 and t >= moment), None)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as s:
        workers = [asyncio.create_task(client(s)) for _ in range(8)]
        await eventually(lambda: refused_after(0.0) is not None, "the burst drained")
        first = refused_after(0.0)
        assert first is not None
        start = answers[first][0]
        await eventually(lambda: refused_after(start + 10) is not None, "10 s of traffic", timeout=60)
        last = refused_after(start + 10)
        assert last is not None
        stop.set()
        await asyncio.gather(*workers)
    end = answers[last][0]
    got = sum(1 for _, st in answers[first:last] if st == 200)
    want = average * (end - start)
    assert abs(got - want) <= 0.05 * want, (got, want)


# ------------------------------------------------------------------ in-flight limit


async def test_in_flight_limit(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    def slow(app: web.Application, _state: Any) -> None:
        async def hold(request: web.Request) -> web.Response:
            entered.set()
            await release.wait()
            return web.Response(text="slow")

        app.router.add_get("/slow", hold)

    b = await backend(extra=slow)
    limit = InFlightLimit(SourceKey(SourceKind.CLIENT_IP), 1, 503)
    metrics = Metrics()
    p = await proxy_server([route("r", [b.addr], middlewares=access(in_flight=limit))], observer=metrics)
    async with aiohttp.ClientSession() as s:

        async def get(path: str) -> int:
            async with s.get(p.url(path)) as r:
                await r.read()
                return r.status

        first = asyncio.create_task(get("/slow"))
        await asyncio.wait_for(entered.wait(), 15)
        assert await get("/fast") == 503  # one in progress already
        release.set()
        assert await first == 200
        assert await get("/fast") == 200  # the slot was given back
        assert await get("/fast") == 200
    assert 'middleware="in-flight-limit"} 1.0' in metrics.render().decode()


async def test_service_in_flight_limit_is_counted_across_its_routes(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    def slow(app: web.Application, _state: Any) -> None:
        async def hold(request: web.Request) -> web.Response:
            entered.set()
            await release.wait()
            return web.Response(text="slow")

        app.router.add_get("/slow", hold)

    b = await backend(extra=slow)
    limit = InFlightLimit(SourceKey(SourceKind.CLIENT_IP), 1, 429, shared_by="Service default/web")
    mw = RouteMiddlewares(access=AccessControls(backend_in_flight=limit))
    p = await proxy_server(
        [
            route("a", [b.addr], host="a.test", middlewares=mw),
            route("b", [b.addr], host="b.test", middlewares=mw),
        ]
    )
    async with aiohttp.ClientSession() as s:

        async def get(host: str, path: str) -> int:
            async with s.get(p.url(path), headers={"Host": host}) as r:
                await r.read()
                return r.status

        first = asyncio.create_task(get("a.test", "/slow"))
        await asyncio.wait_for(entered.wait(), 15)
        assert await get("b.test", "/fast") == 429  # the other route of the same Service
        release.set()
        assert await first == 200
        assert await get("b.test", "/fast") == 200


async def test_forward_auth_too_slow_fails_closed(
    backend: BackendFactory, proxy_server: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingressctl.proxy.middlewares import forward_auth

    monkeypatch.setattr(forward_auth, "TOTAL_TIMEOUT", 0.5)
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/verify", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        b = await backend()
        p = await proxy_server(
            [route("r", [b.addr], middlewares=traefik_auth(f"http://127.0.0.1:{port}/verify"))]
        )
        async with aiohttp.ClientSession() as s, s.get(p.url("/")) as r:
            assert r.status == 503
        assert b.seen == []
    finally:
        never.set()
        await runner.cleanup()


async def test_forward_auth_reuses_its_connections(
    backend: BackendFactory, proxy_server: ProxyFactory, auth_service: AuthService
) -> None:
    b = await backend()
    p = await proxy_server(
        [
            route("ok", [b.addr], host="ok.test", middlewares=traefik_auth(auth_service.url("/ok"))),
            route("deny", [b.addr], host="deny.test", middlewares=traefik_auth(auth_service.url("/deny"))),
        ]
    )
    async with aiohttp.ClientSession() as s:
        for host in ("ok.test", "deny.test") * 5:
            async with s.get(p.url("/"), headers={"Host": host}) as r:
                await r.read()
    assert len(auth_service.seen) == 10
    assert len(auth_service.peers) == 1  # one connection from the proxy, kept alive
