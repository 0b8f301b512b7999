"""HTTP/1.1 clients through the real proxy to real HTTP/2 backends (h2c, and h2 chosen by ALPN on
https), and the upstream HTTP/2 client's own API (trailers, cancellation, stream bound)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from pathlib import Path

import aiohttp
import pytest

from ingressctl.model import EndpointPort, ObjectMeta, Route, Service, ServicePort, Snapshot
from ingressctl.proxy import ProxyOptions
from ingressctl.proxy.pool import UpstreamPool
from ingressctl.routing import CompileOptions, compile
from tests.routing.builders import endpoint_slice, ep, ingress, path, rule
from tests.support.polling import eventually
from tests.tls.conftest import CA

from .conftest import ProxyFactory
from .h2_backend import H2Backend, start_h2_backend

pytestmark = pytest.mark.timeout(60)


def compiled(
    port: int, app_protocol: str = "kubernetes.io/h2c", annotations: dict[str, str] | None = None
) -> list[Route]:
    svc = Service(
        ObjectMeta("grpc", "shop"), ports=(ServicePort(80, "api", port, app_protocol=app_protocol),)
    )
    snapshot = Snapshot(
        ingresses=(
            ingress(
                "app",
                rule(None, path("/", None, service="grpc", port=80)),
                ns="shop",
                annotations=annotations or {},
            ),
        ),
        services=(svc,),
        endpoint_slices=(
            endpoint_slice("grpc", ep("127.0.0.1"), ns="shop", ports=(EndpointPort(port, "api"),)),
        ),
    )
    table, _ = compile(snapshot, CompileOptions())
    return list(table.routes)


@pytest.fixture
async def h2c() -> H2Backend:
    backend = await start_h2_backend()
    yield backend  # type: ignore[misc]
    assert backend.server is not None
    backend.server.close()


async def test_http1_client_to_h2c_backend(h2c: H2Backend, proxy_server: ProxyFactory) -> None:
    [r] = compiled(h2c.port)
    assert r.backend.scheme == "h2c"
    p = await proxy_server([r])
    async with aiohttp.ClientSession() as s:
        async with s.get(
            p.url("/echo?x=1"), headers={"Host": "shop.test", "X-Custom": "yes", "TE": "gzip"}
        ) as resp:
            assert resp.status == 200 and resp.headers["x-backend"] == "h2"
            info = await resp.json()
        assert info["method"] == "GET" and info["path"] == "/echo?x=1"
        assert info["authority"] == "shop.test" and info["scheme"] == "http"
        headers = info["headers"]
        assert headers["x-custom"] == "yes" and headers["x-forwarded-host"] == "shop.test"
        assert "te" not in headers and "connection" not in headers  # RFC 9113 8.2.2
        # A request body, streamed and counted on the other side.
        body = b"a" * (3 * 1024 * 1024 + 17)
        async with s.post(p.url("/echo"), data=body) as resp:
            assert (await resp.json())["body_len"] == len(body)
        # A large response, streamed through the windows.
        async with s.get(p.url("/big/5000000")) as resp:
            assert resp.status == 200 and len(await resp.read()) == 5_000_000


async def test_requests_share_one_multiplexed_connection(h2c: H2Backend, proxy_server: ProxyFactory) -> None:
    p = await proxy_server(compiled(h2c.port))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as s:

        async def one(i: int) -> int:
            async with s.get(p.url(f"/echo/wait/{i}")) as resp:
                return int((await resp.json())["connection"])

        numbers = await asyncio.gather(*(one(i) for i in range(20)))
    assert set(numbers) == {1} and h2c.connections == 1
    assert h2c.max_open_streams > 1  # concurrent streams on the one connection


async def test_stream_bound_opens_another_connection(h2c: H2Backend, proxy_server: ProxyFactory) -> None:
    p = await proxy_server(compiled(h2c.port), options=ProxyOptions(h2_max_streams_per_connection=2))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as s:

        async def one(i: int) -> int:
            async with s.get(p.url(f"/echo/wait/{i}")) as resp:
                return int((await resp.json())["connection"])

        numbers = await asyncio.gather(*(one(i) for i in range(6)))
    assert len(set(numbers)) >= 3 and h2c.max_open_streams <= 2


async def test_a_client_that_does_not_read_stops_the_backend(
    h2c: H2Backend, proxy_server: ProxyFactory
) -> None:
    p = await proxy_server(compiled(h2c.port))
    size = 256 * 1024 * 1024
    _reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    writer.write(f"GET /big/{size} HTTP/1.1\r\nHost: shop.test\r\n\r\n".encode())
    await writer.drain()
    await eventually(lambda: h2c.sent > 0, "the backend starts sending")
    # Wait until the backend is held back (no progress), then check it is far from done.
    last = -1
    while h2c.sent != last:
        last = h2c.sent
        await asyncio.sleep(0.3)
    assert h2c.sent < 64 * 1024 * 1024
    writer.close()
    # The client went away: the proxy cancels the stream (RST_STREAM) instead of reading on.
    await eventually(lambda: bool(h2c.resets), "the stream is reset")


async def test_https_backend_choosing_h2_by_alpn(tmp_path: Path, proxy_server: ProxyFactory) -> None:
    ca = CA("h2 backend CA")
    chain, key = ca.issue(["grpc.shop.svc"])
    (tmp_path / "c.pem").write_bytes(chain)
    (tmp_path / "k.pem").write_bytes(key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    backend = await start_h2_backend(ctx)
    annotations = {"nginx.ingress.kubernetes.io/proxy-ssl-verify": "off"}
    [https] = compiled(backend.port, app_protocol="https", annotations=annotations)
    assert https.backend.scheme == "https"
    p = await proxy_server([https])
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(p.url("/echo"), headers={"Host": "shop.test"}) as resp:
                assert resp.status == 200
                info = await resp.json()
                assert info["scheme"] == "https" and info["connection"] == 1
    # GRPCS: h2 required by ALPN.
    grpcs = {**annotations, "nginx.ingress.kubernetes.io/backend-protocol": "GRPCS"}
    p2 = await proxy_server(compiled(backend.port, annotations=grpcs))
    async with aiohttp.ClientSession() as s, s.get(p2.url("/echo")) as resp:
        assert resp.status == 200 and json.loads(await resp.read())["scheme"] == "https"
    assert backend.server is not None
    backend.server.close()


async def test_client_api_trailers_reset_and_refusal(h2c: H2Backend) -> None:
    pool = UpstreamPool(ProxyOptions())
    try:
        conn = await pool.h2_connection(("127.0.0.1", h2c.port), "h2c", None)
        stream = conn.open_stream("POST", "svc", "/trailers", [("content-type", "application/grpc")])
        await stream.send(b"\x00\x00\x00\x00\x00", end=True)
        status, headers = await stream.response(10)
        assert status == 200 and ("content-type", "application/grpc") in headers
        body = b"".join([piece async for piece in stream.chunks(10)])
        assert json.loads(body)["body_len"] == 5
        assert stream.trailers() == [("grpc-status", "0"), ("grpc-message", "fine")]
        # Cancellation: the backend sees RST_STREAM; the connection carries on.
        slow = conn.open_stream("GET", "svc", "/slow", [], end_stream=True)
        assert (await slow.response(10))[0] == 200
        slow.reset()
        await eventually(lambda: slow.stream_id in h2c.resets, "the backend sees the reset")
        again = await pool.h2_connection(("127.0.0.1", h2c.port), "h2c", None)
        assert again is conn
        third = again.open_stream("GET", "svc", "/echo", [], end_stream=True)
        assert (await third.response(10))[0] == 200 and await third.read(10)
    finally:
        pool.close()


async def test_h2c_backend_down_is_a_502(proxy_server: ProxyFactory) -> None:
    from tests.support.ports import free_port

    p = await proxy_server(compiled(free_port()))
    async with aiohttp.ClientSession() as s, s.get(p.url("/echo")) as resp:
        assert resp.status == 502


async def test_h2c_backend_closing_mid_response_cuts_the_client(
    h2c: H2Backend, proxy_server: ProxyFactory
) -> None:
    p = await proxy_server(compiled(h2c.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    writer.write(b"GET /slow HTTP/1.1\r\nHost: shop.test\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert h2c.server is not None
    h2c.server.close()
    for transport in list(h2c.transports):
        transport.abort()
    # The body cannot be completed: the proxy closes the client connection rather than end it cleanly.
    rest = await reader.read()
    assert b"0\r\n\r\n" not in rest
    writer.close()


async def test_unread_bodies_of_cancelled_streams_give_the_connection_window_back(h2c: H2Backend) -> None:
    pool = UpstreamPool(ProxyOptions(h2_max_streams_per_connection=1))
    try:
        conn = await pool.h2_connection(("127.0.0.1", h2c.port), "h2c", None)
        # 30 x 200 kB received and never read: more than the connection's 4 MiB window.
        for _ in range(30):
            stream = conn.open_stream("GET", "svc", "/big/200000", [], end_stream=True)
            assert (await stream.response(10))[0] == 200
            await eventually(lambda s=stream: s.ended, "the whole body arrives")  # type: ignore[misc]
            stream.reset()
        last = conn.open_stream("GET", "svc", "/big/200000", [], end_stream=True)
        assert (await last.response(10))[0] == 200
        assert len(b"".join([piece async for piece in last.chunks(10)])) == 200000
    finally:
        pool.close()
