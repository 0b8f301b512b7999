"""Requests reach the right backend with the right headers; failures get the right status."""

from __future__ import annotations

import asyncio
import collections
import logging

import aiohttp
import pytest
from aiohttp import web

from ingressctl.model import BackendProblem, PathType
from ingressctl.proxy import EntrypointRuntime, ProxyOptions
from ingressctl.proxy.headers import TrustedNetworks
from tests.support.ports import free_port

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


def headers_of(info: dict[str, object]) -> dict[str, str]:
    return {k.lower(): v for k, v in info["headers"]}  # type: ignore[attr-defined]


async def test_get_reaches_backend_with_forwarded_headers(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr], host="app.example.com")])
    async with (
        aiohttp.ClientSession() as s,
        s.get(p.url("/hello?x=1&y=%20"), headers={"Host": "App.Example.com:8443", "User-Agent": "t"}) as r,
    ):
        assert r.status == 200
        assert r.headers["X-Backend"] == "b"
        info = await r.json()
    h = headers_of(info)
    assert info["path_qs"] == "/hello?x=1&y=%20"
    assert h["host"] == "App.Example.com:8443"
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-real-ip"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "App.Example.com:8443"
    assert h["x-forwarded-port"] == "8443"
    assert h["x-forwarded-server"]
    assert h["user-agent"] == "t"


async def test_hop_by_hop_removed_but_forwarded_headers_kept(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    headers = {
        "Connection": "keep-alive, X-Secret, X-Forwarded-For, X-Real-Ip",
        "X-Secret": "drop me",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-Kept": "yes",
        "X-Forwarded-For": "6.6.6.6",
    }
    async with aiohttp.ClientSession() as s, s.get(p.url("/"), headers=headers) as r:
        info = await r.json()
    h = headers_of(info)
    for gone in ("x-secret", "keep-alive", "te", "proxy-authorization"):
        assert gone not in h
    assert h["x-kept"] == "yes"
    # Untrusted client: its X-Forwarded-For is replaced, and listing it in Connection does not remove ours.
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-real-ip"] == "127.0.0.1"


async def test_incoming_forwarded_headers_trusted_only_from_trusted_ips(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    trusted = EntrypointRuntime("trusted", trusted=TrustedNetworks(["127.0.0.0/8"]))
    untrusted = EntrypointRuntime("untrusted", trusted=TrustedNetworks(["10.0.0.0/8"]))
    p = await proxy_server([route("r", [b.addr])], entrypoints=[trusted, untrusted])
    sent = {
        "X-Forwarded-For": "1.2.3.4",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "outer.example",
        "X-Forwarded-Port": "443",
        "X-Real-Ip": "1.2.3.4",
    }
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/", "trusted"), headers=sent) as r:
            h = headers_of(await r.json())
        assert h["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
        assert h["x-forwarded-proto"] == "https"
        assert h["x-forwarded-host"] == "outer.example"
        assert h["x-forwarded-port"] == "443"
        assert h["x-real-ip"] == "1.2.3.4"
        async with s.get(p.url("/", "untrusted"), headers=sent) as r:
            h = headers_of(await r.json())
        assert h["x-forwarded-for"] == "127.0.0.1"
        assert h["x-forwarded-proto"] == "http"
        assert h["x-forwarded-host"] == f"127.0.0.1:{p.ports['untrusted']}"
        assert h["x-real-ip"] == "127.0.0.1"


async def test_canonical_path_sent_to_backend_and_ambiguous_rejected(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend()
    p = await proxy_server([route("api", [b.addr], path="/api")])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])

    async def raw(target: str) -> tuple[int, bytes]:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split()[1])
        length = int(
            next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(b":")[1]
        )
        return status, await reader.readexactly(length)

    status, body = await raw("/public/../api//v1/./users?q=1")
    assert status == 200
    assert b'"path_qs": "/api/v1/users?q=1"' in body
    for bad in ("/api%2fv1", "/api/%2e%2e/secret", "/api%5cx", "/api/%00"):
        status, _ = await raw(bad)
        assert status == 400, bad
    status, _ = await raw("/other")
    assert status == 404
    writer.close()


async def test_status_codes_name_the_route(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    b = await backend(extra=lambda app, _: app.router.add_get("/slow", slow))
    dead = free_port()
    p = await proxy_server(
        [
            route("ok", [b.addr], host="ok.test"),
            route("dead", [("127.0.0.1", dead)], host="dead.test"),
            route("broken", [], host="broken.test", problem=BackendProblem.SERVICE_NOT_FOUND),
            route("empty", [], host="empty.test"),
        ],
        options=ProxyOptions(response_header_timeout=0.3),
    )
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/"), headers={"Host": "nobody.test"}) as r:
            assert r.status == 404
            assert "not found" in await r.text()
        async with s.get(p.url("/"), headers={"Host": "dead.test"}) as r:
            assert r.status == 502
        async with s.get(p.url("/"), headers={"Host": "broken.test"}) as r:
            assert r.status == 503
        async with s.get(p.url("/"), headers={"Host": "empty.test"}) as r:
            assert r.status == 503
        async with s.get(p.url("/slow"), headers={"Host": "ok.test"}) as r:
            assert r.status == 504
        async with s.get(p.url("/fine"), headers={"Host": "ok.test"}) as r:
            assert r.status == 200
    text = caplog.text
    assert "502 for route dead" in text
    assert "503 for route broken" in text and "service-not-found" in text
    assert "504 for route ok" in text


async def test_upstream_connections_are_reused(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    async with aiohttp.ClientSession() as s:
        for _ in range(20):
            async with s.get(p.url("/")) as r:
                assert r.status == 200
    assert len(b.seen) == 20
    assert len(b.peers) == 1  # one pooled keep-alive connection served all 20 sequential requests


async def test_smooth_weighted_round_robin(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    a, bb, c = await backend("a"), await backend("b"), await backend("c")
    p = await proxy_server([route("r", [(*a.addr, 5), (*bb.addr, 1), (*c.addr, 1)])])
    order = []
    async with aiohttp.ClientSession() as s:
        for _ in range(14):
            async with s.get(p.url("/")) as r:
                order.append(r.headers["X-Backend"])
    # nginx's smooth WRR sequence for 5/1/1: interleaved, never five a's in a row.
    assert order[:7] == ["a", "a", "b", "a", "c", "a", "a"]
    assert collections.Counter(order) == {"a": 10, "b": 2, "c": 2}


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connect_failure_retries_other_endpoint_and_ejects(
    method: str, backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused connect sent nothing, so a POST goes to the other endpoint as well as a GET."""
    good = await backend("good")
    dead = ("127.0.0.1", free_port())
    # The refusing endpoint is listed first: smooth round robin picks it for the first request.
    p = await proxy_server([route("r", [dead, good.addr])], options=ProxyOptions(eject_base_seconds=30))
    caplog.set_level(logging.WARNING, "ingressctl.proxy")
    body = b"payload" if method == "POST" else None
    async with aiohttp.ClientSession() as s:
        for _ in range(6):
            async with s.request(method, p.url("/"), data=body) as r:
                assert r.status == 200
                assert r.headers["X-Backend"] == "good"
    # Each request reached the healthy endpoint exactly once, its body intact.
    assert [(seen["method"], seen["body_len"]) for seen in good.seen] == [(method, len(body or b""))] * 6
    # The dead endpoint was tried once, then ejected: one failure logged, not three.
    assert caplog.text.count(f"upstream 127.0.0.1:{dead[1]} failed") == 1
    assert "ejected for 30.0s" in caplog.text


async def test_strip_prefix(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server(
        [
            route("strip", [b.addr], path="/app", strip_prefix=True),
            route("keep", [b.addr], path="/keep"),
        ]
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/app/x/y?z=1")) as r:
            assert (await r.json())["path_qs"] == "/x/y?z=1"
        async with s.get(p.url("/app")) as r:
            assert (await r.json())["path_qs"] == "/"
        async with s.get(p.url("/keep/x")) as r:
            assert (await r.json())["path_qs"] == "/keep/x"


async def test_chunked_head_and_empty_responses(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(50):
            await resp.write(f"part{i};".encode())
        await resp.write_eof()
        return resp

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"X-Empty": "1"})

    def extra(app: web.Application, _: Backend) -> None:
        app.router.add_get("/chunked", chunked)
        app.router.add_get("/empty", empty)

    b = await backend(extra=extra)
    p = await proxy_server([route("r", [b.addr])])
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/chunked")) as r:
            assert r.status == 200
            assert await r.text() == "".join(f"part{i};" for i in range(50))
        async with s.head(p.url("/anything")) as r:
            assert r.status == 200
            assert int(r.headers["Content-Length"]) > 0
            assert await r.read() == b""
        async with s.get(p.url("/empty")) as r:
            assert r.status == 204 and r.headers["X-Empty"] == "1"
        async with s.get(p.url("/after")) as r:  # the pooled connection is still in a clean state
            assert (await r.json())["path_qs"] == "/after"


async def test_h2c_upgrade_is_not_forwarded(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr])])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    writer.write(
        b"GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")  # answered as HTTP/1.1, never 101
    h = headers_of(b.seen[-1])
    assert "upgrade" not in h and "http2-settings" not in h


async def test_expect_100_continue(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    b = await backend()
    p = await proxy_server([route("r", [b.addr], path="/up")])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    body = b"z" * 5000
    writer.write(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(body)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    length = int(
        next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(b":")[1]
    )
    await reader.readexactly(length)
    # A request refused before its body (no route): the final status comes without 100 Continue.
    writer.write(b"POST /nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    await writer.drain()
    head2 = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    assert b.seen[-1]["body_len"] == 5000
    assert "expect" not in headers_of(b.seen[-1])
    assert head2.startswith(b"HTTP/1.1 404"), head2


async def test_route_entrypoint_restriction(backend: BackendFactory, proxy_server: ProxyFactory) -> None:
    internal, public = await backend("internal"), await backend("public")
    p = await proxy_server(
        [
            route("internal", [internal.addr], path="/", entrypoints=("admin",)),
            route(
                "public",
                [public.addr],
                path="/",
                path_type=PathType.IMPLEMENTATION_SPECIFIC,
                host=None,
                entrypoints=("web",),
            ),
        ],
        entrypoints=[EntrypointRuntime("web"), EntrypointRuntime("admin")],
    )
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/", "web")) as r:
            assert r.headers["X-Backend"] == "public"
        async with s.get(p.url("/", "admin")) as r:
            assert r.headers["X-Backend"] == "internal"


async def test_response_header_timeout_starts_after_the_request_body(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    """A slow upload is not a slow upstream: the header timeout counts from the end of the request."""
    b = await backend()
    p = await proxy_server([route("r", [b.addr])], options=ProxyOptions(response_header_timeout=0.3))

    async def slow_body():  # type: ignore[no-untyped-def]
        for _ in range(6):
            yield b"x" * 1000
            await asyncio.sleep(0.15)

    async with aiohttp.ClientSession() as s, s.post(p.url("/up"), data=slow_body()) as r:
        assert r.status == 200
        assert (await r.json())["body_len"] == 6000
