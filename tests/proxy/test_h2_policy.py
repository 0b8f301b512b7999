"""The route's upstream policy on HTTP/2 backends (h2c), as over HTTP/1.1: the sticky cookie,
proxy-next-upstream retries (only before any byte of the answer reached the client, and for
idempotent requests), error pages; streams the backend refused unprocessed (REFUSED_STREAM, or
above a GOAWAY's last stream id) are asked again whatever the method (RFC 9113 8.7); and the
backend's SETTINGS_MAX_CONCURRENT_STREAMS is honoured with more connections, up to a bound."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest

from ingressctl.model import Route, RouteMiddlewares
from ingressctl.model.backend_policy import BackendPolicy, StickyCookie
from ingressctl.proxy import ProxyOptions

from .conftest import ProxyFactory, route
from .h2_backend import H2Backend, start_h2_backend
from .test_backend_policy import PageService, page_policy

pytestmark = pytest.mark.timeout(60)


def h2c_route(rid: str, backends: list[H2Backend], policy: BackendPolicy | None = None) -> Route:
    middlewares = RouteMiddlewares(backend_policy=policy) if policy is not None else None
    r = route(rid, [("127.0.0.1", b.port) for b in backends], middlewares=middlewares)
    return dataclasses.replace(r, backend=dataclasses.replace(r.backend, scheme="h2c"))


@pytest.fixture
async def three() -> AsyncIterator[list[H2Backend]]:
    backends = [await start_h2_backend() for _ in range(3)]
    yield backends
    for b in backends:
        assert b.server is not None
        b.server.close()


async def echo(
    s: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: object
) -> tuple[int, dict[str, object] | str, aiohttp.ClientResponse]:
    async with s.request(method, url, **kwargs) as resp:  # type: ignore[arg-type]
        text = await resp.text()
        body = await resp.json() if resp.content_type == "application/json" else text
        return resp.status, body, resp


async def test_a_sticky_cookie_pins_the_client_to_an_h2_endpoint(
    three: list[H2Backend], proxy_server: ProxyFactory
) -> None:
    policy = BackendPolicy(sticky=StickyCookie("pin", http_only=True), sources=("test",))
    p = await proxy_server([h2c_route("sticky", three, policy)])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        status, first, resp = await echo(s, p.url("/echo"))
        assert status == 200 and isinstance(first, dict)
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("pin=") and "HttpOnly" in cookie and "127.0.0.1" not in cookie
        for _ in range(6):
            status, again, resp = await echo(s, p.url("/echo"))
            assert status == 200 and isinstance(again, dict) and again["port"] == first["port"]
            assert "Set-Cookie" not in resp.headers  # the client's cookie already says so


async def test_next_upstream_retries_5xx_answers_of_h2_endpoints(
    three: list[H2Backend], proxy_server: ProxyFactory
) -> None:
    three[0].status = 503
    policy = BackendPolicy(retry_on=("error", "timeout", "http_503"), tries=3, sources=("test",))
    p = await proxy_server([h2c_route("retry", three, policy), h2c_route("plain", three)])
    async with aiohttp.ClientSession() as s:
        for _ in range(9):
            status, body, _ = await echo(s, p.url("/echo"))
            assert status == 200 and isinstance(body, dict) and body["port"] != three[0].port
        # POST is not idempotent: not retried without non_idempotent (as over HTTP/1.1).
        posts = {(await echo(s, p.url("/echo"), "POST", data=b"1"))[0] for _ in range(6)}
        assert posts == {200, 503}
    assert len(three[0].requests) >= 3 + 2


async def test_error_pages_replace_an_h2_answer_and_keep_its_status(
    three: list[H2Backend], proxy_server: ProxyFactory
) -> None:
    pages = await PageService().start()
    try:
        backend = three[0]
        policy = page_policy(pages, ((500, 599),), "/{status}.html", False)
        p = await proxy_server([h2c_route("pages", [backend], policy)])
        async with aiohttp.ClientSession() as s:
            assert (await echo(s, p.url("/echo")))[0] == 200
            backend.status = 502
            status, body, _ = await echo(s, p.url("/echo"))
            assert (status, body) == (502, "page for /502.html code -")
        # The backend's answer was cancelled, not read: the stream was reset.
        assert backend.resets or backend.status == 502
    finally:
        assert pages.runner is not None
        await pages.runner.cleanup()


async def test_refused_streams_are_asked_again_whatever_the_method(
    three: list[H2Backend], proxy_server: ProxyFactory
) -> None:
    backend = three[0]
    p = await proxy_server([h2c_route("one", [backend])])
    async with aiohttp.ClientSession() as s:
        backend.refuse = 1  # RST_STREAM(REFUSED_STREAM): never processed
        status, body, _ = await echo(s, p.url("/echo"), "POST", data=b"12345")
        assert status == 200 and isinstance(body, dict) and body["body_len"] == 5
        assert backend.refuse == 0 and len(backend.requests) == 1
        backend.go_away = 1  # GOAWAY naming an earlier stream, then the connection closes
        status, body, _ = await echo(s, p.url("/echo"), "POST", data=b"12345")
        assert status == 200 and isinstance(body, dict) and body["connection"] == 2
        # A body larger than what is kept for a refusal (one stream window) cannot be sent again.
        backend.refuse = 1
        status, body, _ = await echo(s, p.url("/echo"), "POST", data=b"x" * 30000)
        assert status == 200 and isinstance(body, dict) and body["body_len"] == 30000
        backend.refuse = 1
        status, _, _ = await echo(s, p.url("/echo"), "POST", data=b"x" * 200_000)
        assert status == 502 and len(backend.requests) == 3
        # Refused more often than the proxy asks again: a 502, nothing else.
        backend.refuse = 10
        status, _, _ = await echo(s, p.url("/echo"))
        assert status == 502


async def test_the_backends_stream_limit_is_honoured_with_more_connections(
    proxy_server: ProxyFactory,
) -> None:
    backend = await start_h2_backend(max_concurrent_streams=2)
    backend.settings_delay = 0.2  # the limit arrives after the first requests
    try:
        p = await proxy_server([h2c_route("limited", [backend])])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as s:
            results = await asyncio.gather(*(echo(s, p.url(f"/echo/wait/{i}")) for i in range(12)))
        assert [r[0] for r in results] == [200] * 12
        assert backend.over_limit == 0 and backend.max_open_streams <= 2
        assert backend.connections >= 3  # 12 at once, 2 per connection
    finally:
        assert backend.server is not None
        backend.server.close()


async def test_at_the_connection_bound_requests_wait_for_a_free_stream(proxy_server: ProxyFactory) -> None:
    backend = await start_h2_backend(max_concurrent_streams=2)
    try:
        options = ProxyOptions(h2_max_connections_per_upstream=2)
        p = await proxy_server([h2c_route("bounded", [backend])], options=options)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as s:
            results = await asyncio.gather(*(echo(s, p.url(f"/echo/wait/{i}")) for i in range(12)))
        assert [r[0] for r in results] == [200] * 12
        assert backend.connections == 2 and backend.over_limit == 0 and backend.max_open_streams <= 2
    finally:
        assert backend.server is not None
        backend.server.close()
