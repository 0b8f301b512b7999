"""The upstream policy as clients see it, through the real proxy and three real backends on loopback:
sticky cookies (pinned, re-pinned when the endpoint dies or leaves), consistent hashing, the
least-latency method, the circuit breaker (open → 503 at once, half-open probes, closed again), body
limits, timeouts and proxy-next-upstream retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from ingressctl.model import Route, RouteBackend, RouteMiddlewares, Upstream
from ingressctl.model.backend_policy import (
    BackendPolicy,
    BalanceMethod,
    CircuitBreaker,
    ErrorPages,
    HashKey,
    StickyCookie,
)
from ingressctl.proxy.middlewares.circuit_breaker import broken_requests
from ingressctl.routing.breaker_expression import parse_breaker_expression

from .conftest import ProxyFactory, route

pytestmark = pytest.mark.timeout(60)


@dataclass
class Endpoint:
    """A real backend that names itself; `status` and `delay` change its answers on command."""

    name: str
    port: int = 0
    hits: int = 0
    status: int = 200
    delay: float = 0.0
    runner: web.AppRunner | None = None
    bodies: list[int] = field(default_factory=list)

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    async def start(self) -> Endpoint:
        async def handler(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                ws = web.WebSocketResponse()
                await ws.prepare(request)
                await ws.send_str(self.name)
                await ws.close()
                return ws
            body = await request.read()
            self.hits += 1
            self.bodies.append(len(body))
            if self.delay:
                await asyncio.sleep(self.delay)
            size = int(request.query.get("size", "0"))
            return web.Response(
                status=self.status, text=self.name + "x" * size, headers={"X-Backend": self.name}
            )

        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", handler)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def three() -> AsyncIterator[list[Endpoint]]:
    endpoints = [await Endpoint(name).start() for name in ("a", "b", "c")]
    yield endpoints
    for e in endpoints:
        await e.stop()


def with_policy(rid: str, endpoints: list[Endpoint], policy: BackendPolicy, host: str | None = None) -> Route:
    return route(
        rid, [e.addr for e in endpoints], host=host, middlewares=RouteMiddlewares(backend_policy=policy)
    )


Get = Callable[..., Awaitable[tuple[int, str, aiohttp.ClientResponse]]]


async def fetch(
    session: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: object
) -> tuple[int, str, aiohttp.ClientResponse]:
    async with session.request(method, url, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text(), resp


STICKY = BackendPolicy(sticky=StickyCookie("pin", http_only=True, same_site="Lax"), sources=("test",))


async def test_a_sticky_cookie_pins_the_client_and_hides_the_address(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    p = await proxy_server([with_policy("r", three, STICKY)])
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        status, first, resp = await fetch(s, p.url("/"))
        assert status == 200
        cookie = resp.headers["Set-Cookie"]
        value = cookie.split(";")[0].split("=", 1)[1]
        assert cookie == f"pin={value}; Path=/; HttpOnly; SameSite=Lax"
        assert len(value) == 16 and "127" not in value and str(three[0].port) not in value
        for _ in range(12):
            status, body, resp = await fetch(s, p.url("/"))
            assert (status, body) == (200, first)
            assert "Set-Cookie" not in resp.headers  # already pinned: nothing new to say
    # Without the cookie, clients are spread as before.
    async with aiohttp.ClientSession() as s:
        seen = {(await fetch(s, p.url("/")))[1] for _ in range(6)}
    assert seen == {"a", "b", "c"}


async def test_a_dead_or_removed_endpoint_re_pins(three: list[Endpoint], proxy_server: ProxyFactory) -> None:
    p = await proxy_server([with_policy("r", three, STICKY)])
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        _, pinned, _ = await fetch(s, p.url("/"))
        dead = next(e for e in three if e.name == pinned)
        await dead.stop()
        status, moved, resp = await fetch(s, p.url("/"))
        assert status == 200 and moved != pinned
        assert "Set-Cookie" in resp.headers  # pinned again, to the endpoint that answered
        for _ in range(6):
            assert (await fetch(s, p.url("/")))[1] == moved
        # The endpoint it moved to leaves the Service (a new table without it): pinned once more.
        remaining = [e for e in three if e.name not in (pinned, moved)]
        p.set_routes([with_policy("r", remaining, STICKY)])
        status, last, resp = await fetch(s, p.url("/"))
        assert (status, last) == (200, remaining[0].name)
        assert "Set-Cookie" in resp.headers
        assert (await fetch(s, p.url("/")))[1] == last


async def test_a_sticky_cookie_pins_websockets_too(three: list[Endpoint], proxy_server: ProxyFactory) -> None:
    p = await proxy_server([with_policy("r", three, STICKY)])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        _, pinned, _ = await fetch(s, p.url("/"))
        for _ in range(5):
            async with s.ws_connect(p.url("/socket")) as ws:
                assert await ws.receive_str() == pinned


async def test_consistent_hashing_keeps_a_uri_on_one_endpoint(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    policy = BackendPolicy(hash_key=HashKey("$request_uri", (("var", "request_uri"),)), sources=("test",))
    p = await proxy_server([with_policy("r", three, policy)])
    async with aiohttp.ClientSession() as s:
        owners: dict[str, str] = {}
        for n in range(30):
            owners[f"/item/{n}"] = (await fetch(s, p.url(f"/item/{n}")))[1]
        for uri, owner in owners.items():
            assert (await fetch(s, p.url(uri)))[1] == owner
    assert len(set(owners.values())) >= 2  # spread, not all on one endpoint


async def test_least_latency_avoids_the_slow_endpoint(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    three[0].delay = 0.2
    policy = BackendPolicy(method=BalanceMethod.LEAST_LATENCY, sources=("test",))
    p = await proxy_server([with_policy("r", three, policy)])
    async with aiohttp.ClientSession() as s:
        for _ in range(30):
            assert (await fetch(s, p.url("/")))[0] == 200
    assert three[0].hits <= 2
    assert three[1].hits + three[2].hits >= 28
    # Round robin (the default) would have given it a third.
    plain = await proxy_server([route("plain", [e.addr for e in three])])
    before = three[0].hits
    async with aiohttp.ClientSession() as s:
        for _ in range(6):
            await fetch(s, plain.url("/"))
    assert three[0].hits - before == 2


def breaker_policy(expression: str, fallback: float = 0.3) -> BackendPolicy:
    config = CircuitBreaker(expression, parse_breaker_expression(expression), fallback_seconds=fallback)
    return BackendPolicy(breaker=config, sources=("test",))


async def until_status(session: aiohttp.ClientSession, url: str, want: int, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (status := (await fetch(session, url))[0]) != want:
        assert loop.time() < deadline, f"still {status}, wanted {want}"
        await asyncio.sleep(0.05)


async def test_the_circuit_breaker_opens_probes_and_closes(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    backend = three[0]
    p = await proxy_server([with_policy("cb", [backend], breaker_policy("NetworkErrorRatio() > 0.5"))])
    async with aiohttp.ClientSession() as s:
        assert (await fetch(s, p.url("/")))[0] == 200
        backend.status = 502
        broken_before = broken_requests().get("cb", 0)
        # Failing answers pass until the ratio is over 0.5, then the breaker answers itself.
        await until_status(s, p.url("/"), 503)
        hits = backend.hits
        status, body, _ = await fetch(s, p.url("/"))
        assert status == 503 and "circuit breaker" in body
        assert backend.hits == hits  # open: the backend is not asked
        assert broken_requests()["cb"] >= broken_before + 2
        # Half-open with the backend still failing: the probe fails and it opens again.
        await until_status(s, p.url("/"), 502)
        assert (await fetch(s, p.url("/")))[0] == 503
        # The backend recovers: probes pass, and the breaker closes.
        backend.status = 200
        await until_status(s, p.url("/"), 200)
        for _ in range(10):
            status, _, _ = await fetch(s, p.url("/"))
            if status != 200:  # at most the other probes of the half-open state answer 503
                assert status == 503
                await asyncio.sleep(0.05)
        for _ in range(5):
            assert (await fetch(s, p.url("/")))[0] == 200


async def test_latency_and_code_ratio_conditions(three: list[Endpoint], proxy_server: ProxyFactory) -> None:
    slow, erring = three[0], three[1]
    slow.delay = 0.15
    p = await proxy_server(
        [
            with_policy("slow", [slow], breaker_policy("LatencyAtQuantileMS(50.0) > 100", 30), "s.test"),
            with_policy(
                "codes", [erring], breaker_policy("ResponseCodeRatio(500, 600, 0, 600) > 0.5", 30), "e.test"
            ),
        ]
    )
    async with aiohttp.ClientSession() as s:
        assert (await fetch(s, p.url("/"), headers={"Host": "s.test"}))[0] == 200
        assert (await fetch(s, p.url("/"), headers={"Host": "s.test"}))[0] == 503
        erring.status = 500
        assert (await fetch(s, p.url("/"), headers={"Host": "e.test"}))[0] == 500
        assert (await fetch(s, p.url("/"), headers={"Host": "e.test"}))[0] == 503


async def test_body_limits(three: list[Endpoint], proxy_server: ProxyFactory) -> None:
    backend = three[0]
    policy = BackendPolicy(max_request_body=1000, max_response_body=500, sources=("test",))
    p = await proxy_server([with_policy("r", [backend], policy)])

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 100):
            yield b"x" * 100

    async with aiohttp.ClientSession() as s:
        assert (await fetch(s, p.url("/"), "POST", data=b"x" * 1000))[0] == 200
        assert (await fetch(s, p.url("/"), "POST", data=b"x" * 1001))[0] == 413
        assert backend.bodies == [1000]  # the large one never reached the backend
        assert (await fetch(s, p.url("/"), "POST", data=chunks(500)))[0] == 200
        assert (await fetch(s, p.url("/"), "POST", data=chunks(5000)))[0] == 413
        assert (await fetch(s, p.url("/?size=100")))[0] == 200
        status, body, _ = await fetch(s, p.url("/?size=1000"))
        assert status == 502 and "larger than the route allows" in body


async def test_read_timeout_answers_504(three: list[Endpoint], proxy_server: ProxyFactory) -> None:
    backend = three[0]
    backend.delay = 5.0
    p = await proxy_server([with_policy("r", [backend], BackendPolicy(read_timeout=0.3, sources=("test",)))])
    async with aiohttp.ClientSession() as s:
        assert (await fetch(s, p.url("/")))[0] == 504


async def test_next_upstream_retries_503_answers_on_another_endpoint(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    three[0].status = 503
    policy = BackendPolicy(retry_on=("error", "timeout", "http_503"), tries=3, sources=("test",))
    p = await proxy_server(
        [
            with_policy("retry", three, policy),
            route("plain", [e.addr for e in three], host="plain.test"),
        ]
    )
    async with aiohttp.ClientSession() as s:
        for _ in range(9):
            status, body, _ = await fetch(s, p.url("/"))
            assert (status, body) in ((200, "b"), (200, "c"))
        # POST is not idempotent: not retried without non_idempotent (as ingress-nginx).
        posts = {(await fetch(s, p.url("/"), "POST", data=b"1"))[0] for _ in range(6)}
        assert posts == {200, 503}
        plain = {(await fetch(s, p.url("/"), headers={"Host": "plain.test"}))[0] for _ in range(6)}
        assert plain == {200, 503}  # without the annotation the 503 goes to the client
    assert three[0].hits >= 3


async def test_next_upstream_off_disables_even_the_connect_retry(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    await three[0].stop()
    p = await proxy_server([with_policy("off", three, BackendPolicy(retry_on=("off",), sources=("test",)))])
    async with aiohttp.ClientSession() as s:
        statuses = [(await fetch(s, p.url("/")))[0] for _ in range(3)]
    assert 502 in statuses


@dataclass
class PageService:
    """The Service that serves error pages: answers with what it was asked (path and X-Code)."""

    port: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self) -> PageService:
        async def handler(request: web.Request) -> web.Response:
            self.seen.append({"path": request.path_qs, **{k: v for k, v in request.headers.items()}})
            return web.Response(text=f"page for {request.path_qs} code {request.headers.get('X-Code', '-')}")

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handler)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self


def page_policy(
    pages: PageService, statuses: tuple[tuple[int, int], ...], query: str, nginx: bool
) -> BackendPolicy:
    backend = RouteBackend("default", "pages", "80", (Upstream("127.0.0.1", pages.port),))
    page = ErrorPages(statuses, "pages", "", query, nginx_headers=nginx, backend=backend)
    return BackendPolicy(error_pages=(page,), sources=("test",))


async def test_error_pages_replace_the_body_and_keep_the_status(
    three: list[Endpoint], proxy_server: ProxyFactory
) -> None:
    pages = await PageService().start()
    try:
        backend = three[0]
        p = await proxy_server(
            [
                with_policy(
                    "traefik", [backend], page_policy(pages, ((500, 599),), "/{status}.html", False), "t.test"
                ),
                with_policy(
                    "nginx", [backend], page_policy(pages, ((404, 404), (503, 503)), "/", True), "n.test"
                ),
            ]
        )
        async with aiohttp.ClientSession() as s:
            assert (await fetch(s, p.url("/x"), headers={"Host": "t.test"}))[:2] == (200, "a")
            backend.status = 503
            status, body, resp = await fetch(s, p.url("/x?y=1"), headers={"Host": "t.test"})
            assert (status, body) == (503, "page for /503.html code -")
            assert resp.headers["Content-Type"].startswith("text/plain")
            status, body, _ = await fetch(
                s, p.url("/x?y=1"), headers={"Host": "n.test", "Accept": "text/html"}
            )
            assert (status, body) == (503, "page for / code 503")
            sent = pages.seen[-1]
            assert sent["X-Original-URI"] == "/x?y=1" and sent["X-Format"] == "text/html"
            assert (sent["X-Namespace"], sent["X-Ingress-Name"], sent["X-Service-Name"]) == (
                "default",
                "nginx",
                "nginx",
            )
            backend.status = 500  # not listed for ingress-nginx's route: passed on as it is
            assert (await fetch(s, p.url("/"), headers={"Host": "n.test"}))[:2] == (500, "a")
            # The page Service is down: the proxy's own answer, still with the original status.
            assert pages.runner is not None
            await pages.runner.cleanup()
            pages.runner = None
            status, body, _ = await fetch(s, p.url("/"), headers={"Host": "t.test"})
            assert (status, body) == (500, "Internal Server Error\n")
    finally:
        if pages.runner is not None:
            await pages.runner.cleanup()
