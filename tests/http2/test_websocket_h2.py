"""WebSockets over HTTP/2 (RFC 8441): the proxy offers SETTINGS_ENABLE_CONNECT_PROTOCOL, takes an
extended CONNECT (:protocol websocket) through the route's middlewares, upgrades to the HTTP/1.1
backend (a real aiohttp WebSocket server) and relays the frames both ways. The client is the h2
library speaking RFC 8441 and RFC 6455 framing by hand (curl and nghttp cannot)."""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web

from tests.http2.conftest import Backend, H2Env, RawClient, Stream, start_env
from tests.serve.test_backend_protocols import app
from tests.support.polling import eventually

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def ws_backend() -> tuple[web.AppRunner, int, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        if request.path == "/refused":
            return web.Response(status=403, text="no websockets here")
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str("echo: " + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data[::-1])
        return ws

    application = web.Application()
    application.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1], seen


@pytest.fixture
async def ws_env(tmp_path: Path, backend: Backend) -> AsyncIterator[tuple[H2Env, list[dict[str, str]]]]:
    runner, port, seen = await ws_backend()
    env = await start_env(tmp_path, backend, extra=app("ws", "grpc.test", port))
    yield env, seen
    await env.server.stop()
    await runner.cleanup()


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (masked, RFC 6455 5.3), payload under 126 bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """Server frames (unmasked, short) in `data`."""
    out = []
    while len(data) >= 2:
        length = data[1] & 0x7F
        out.append((data[0] & 0x0F, data[2 : 2 + length]))
        data = data[2 + length :]
    return out


def connect_headers(path: str) -> list[tuple[str, str]]:
    return [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":path", path),
        (":authority", "grpc.test"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat"),
    ]


async def test_a_websocket_over_http2_reaches_an_http1_backend(
    ws_env: tuple[H2Env, list[dict[str, str]]],
) -> None:
    env, seen = ws_env
    client = await RawClient.connect(env.address("websecure"), tls=True)
    try:
        await client.until(lambda: client.conn.remote_settings.enable_connect_protocol == 1)
        stream_id = client.conn.get_next_available_stream_id()
        stream = client.streams[stream_id] = Stream()
        client.conn.send_headers(stream_id, connect_headers("/chat?room=1"))
        await client.flush()
        await client.until(lambda: bool(stream.headers) or stream.reset is not None)
        head = dict(stream.headers)
        assert head[b":status"] == b"200" and head[b"sec-websocket-protocol"] == b"chat"
        assert b"sec-websocket-accept" not in head and b"upgrade" not in head
        # The backend got an HTTP/1.1 handshake with the forwarded headers.
        handshake = seen[-1]
        assert handshake["Upgrade"] == "websocket" and handshake["X-Forwarded-Proto"] == "https"
        assert handshake["X-Forwarded-Host"] == "grpc.test"
        client.conn.send_data(stream_id, frame(0x1, b"hello") + frame(0x2, b"abc"))
        await client.flush()
        await client.until(lambda: len(frames(bytes(stream.data))) >= 2)
        assert frames(bytes(stream.data)) == [(0x1, b"echo: hello"), (0x2, b"cba")]
        # Closing: the close frame is answered, the backend closes, and the stream ends.
        client.conn.send_data(stream_id, frame(0x8, struct.pack("!H", 1000)), end_stream=True)
        await client.flush()
        await client.response(stream_id)
        assert stream.ended and frames(bytes(stream.data))[-1][0] == 0x8
        # The connection carries on with ordinary requests.
        ok = await client.response(await client.request(client.request_headers("/echo", "app.test")))
        assert ok.status == 200
    finally:
        await client.close()


async def test_a_refused_upgrade_is_passed_on_and_middlewares_apply(
    ws_env: tuple[H2Env, list[dict[str, str]]],
) -> None:
    env, _ = ws_env
    client = await RawClient.connect(env.address("web"), tls=False)
    try:
        stream_id = client.conn.get_next_available_stream_id()
        stream = client.streams[stream_id] = Stream()
        client.conn.send_headers(stream_id, connect_headers("/refused"))
        await client.flush()
        await client.response(stream_id)
        assert stream.status == 403 and bytes(stream.data) == b"no websockets here"
        # The route's middlewares run first: private.test allows 10.9.9.0/24 only.
        denied = client.conn.get_next_available_stream_id()
        client.streams[denied] = Stream()
        headers = [(n, "private.test" if n == ":authority" else v) for n, v in connect_headers("/chat")]
        client.conn.send_headers(denied, headers)
        await client.flush()
        assert (await client.response(denied)).status == 403
        # A :protocol without CONNECT is malformed (RFC 8441 4): a stream error.
        pseudo = [*client.request_headers("/chat", "grpc.test"), (":protocol", "websocket")]
        bad = await client.request(pseudo)
        assert (await client.response(bad)).reset == 1  # PROTOCOL_ERROR
    finally:
        await client.close()


async def test_chromium_opens_its_websocket_over_the_http2_connection(
    ws_env: tuple[H2Env, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real browser: with an HTTP/2 connection to the origin that offers extended CONNECT,
    Chromium (with its WebSocketOverHttp2 feature) sends its WebSocket handshake on it (RFC 8441)
    instead of opening an HTTP/1.1 connection."""
    from tests import needs
    from tests.api import browser as chromium

    needs.tool("chromium", "chromium")
    env, seen = ws_env
    port = env.address("websecure")[1]
    flags = (
        "--ignore-certificate-errors",
        "--host-resolver-rules=MAP grpc.test 127.0.0.1",
        # Chromium 150 sends WebSockets over HTTP/2 only with this feature (off by default there).
        "--enable-features=WebSocketOverHttp2",
    )
    monkeypatch.setattr(chromium, "FLAGS", chromium.FLAGS + flags)
    caplog.set_level("INFO", logger="ingressctl.access")
    browser = chromium.Browser()
    try:
        page = await chromium.Page.open(browser)
        try:
            await page.goto(f"https://grpc.test:{port}/page")
            await page.wait_for("document.readyState === 'complete'")
            reply = await page.eval(
                f"""new Promise(done => {{
                    const ws = new WebSocket("wss://grpc.test:{port}/chat", ["chat"]);
                    ws.onopen = () => ws.send("from chromium");
                    let got = "";
                    ws.onmessage = e => {{ got = e.data + " / " + ws.protocol; ws.close(1000); }};
                    ws.onclose = e => done(got + " / " + e.code);
                    ws.onerror = () => done("error");
                }})"""
            )
        finally:
            await page.close()
    finally:
        browser.close()
    assert reply == "echo: from chromium / chat / 1000"

    def over_http2() -> bool:  # logged when the tunnel ends, after the close handshake
        return any('"GET /chat HTTP/2.0" 200' in r.getMessage() for r in caplog.records)

    await eventually(over_http2, "the WebSocket went over the HTTP/2 connection")
    # The handshake reached the backend as HTTP/1.1's; not necessarily last: Chromium asks for
    # /favicon.ico (the same route) whenever it gets to it, sometimes after the WebSocket.
    assert any(headers.get("Upgrade") == "websocket" for headers in seen)
