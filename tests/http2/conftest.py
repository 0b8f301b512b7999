"""A real Server with HTTP/2 entrypoints, a real loopback backend, and a raw HTTP/2 client (the h2
library) for what curl and nghttp cannot send: malformed heads, resets, floods."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from aiohttp import web

from ingressctl.model.config import EntryPoint, EntryPointTLS, StaticConfig
from ingressctl.model.http2 import Http2Settings
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from ingressctl.tls.store import CertificateStore
from tests.certificates import self_signed
from tests.support.manifests import app_manifest


@dataclass
class Backend:
    """An HTTP/1.1 backend that says what it received, streams large bodies and counts what it
    sent, and records requests that were cancelled (their client went away)."""

    port: int = 0
    sent: int = 0
    slow_started: int = 0
    slow_cancelled: int = 0
    runner: web.AppRunner | None = None

    async def start(self) -> Backend:
        app = web.Application(client_max_size=2**30)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/big":
            size = int(request.query.get("n", "1000000"))
            response = web.StreamResponse()
            response.content_length = size
            await response.prepare(request)
            chunk = b"x" * 65536
            left = size
            while left:
                part = chunk[: min(left, len(chunk))]
                await response.write(part)
                self.sent += len(part)
                left -= len(part)
            await response.write_eof()
            return response
        if request.path == "/slow":
            self.slow_started += 1
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.slow_cancelled += 1
                raise
        if request.path == "/sleep":
            await asyncio.sleep(float(request.query.get("s", "1")))
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
        return web.json_response(
            {
                "method": request.method,
                "path": request.path_qs,
                "version": f"{request.version.major}.{request.version.minor}",
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": size,
            }
        )

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def header(echo: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


@dataclass
class H2Env:
    server: Server
    backend: Backend
    cert_pem: bytes

    def address(self, entrypoint: str) -> tuple[str, int]:
        host, _, port = self.server.state.bound[entrypoint].rpartition(":")
        return host, int(port)

    def url(self, entrypoint: str, path: str = "/", host: str = "app.test") -> str:
        _, port = self.address(entrypoint)
        scheme = "https" if entrypoint in ("websecure", "noh2") else "http"
        return f"{scheme}://{host}:{port}{path}"

    def resolve(self, entrypoint: str, host: str = "app.test") -> str:
        return f"{host}:{self.address(entrypoint)[1]}:127.0.0.1"


def manifests(port: int, cert_pem: bytes, key_pem: bytes) -> str:
    secret = f"""apiVersion: v1
kind: Secret
metadata: {{name: app-tls, namespace: default}}
type: kubernetes.io/tls
data:
  tls.crt: {base64.b64encode(cert_pem).decode()}
  tls.key: {base64.b64encode(key_pem).decode()}
"""
    app = app_manifest("app", "app.test", "/", port).replace(
        "spec:\n  rules:",
        "spec:\n  tls:\n  - hosts: [app.test, grpc.test]\n    secretName: app-tls\n  rules:",
        1,
    )
    other = app_manifest("other", "other.test", "/", port)
    private = app_manifest(
        "private",
        "private.test",
        "/",
        port,
        "    ingress.kubernetes.io/whitelist-source-range: 10.9.9.0/24\n",
    )
    # A route whose Service has no endpoint: the proxy itself answers 503.
    empty = app_manifest("empty", "empty.test", "/", port).split("---\napiVersion: discovery.k8s.io/v1")[0]
    down = app_manifest("down", "down.test", "/", 9)  # port 9 (discard): nothing listens on loopback
    return "---\n".join([secret, app, other, private, empty, down])


def entrypoints(**http2: Any) -> tuple[EntryPoint, ...]:
    settings = Http2Settings(**http2)
    return (
        EntryPoint("websecure", "127.0.0.1:0", tls=EntryPointTLS(), http2=settings),
        EntryPoint("noh2", "127.0.0.1:0", tls=EntryPointTLS(), http2=Http2Settings(enabled=False)),
        EntryPoint("web", "127.0.0.1:0", http2=Http2Settings(h2c=True, **http2)),
        EntryPoint("plain", "127.0.0.1:0"),
    )


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    b = await Backend().start()
    yield b
    await b.stop()


async def start_env(tmp_path: Path, backend: Backend, extra: str = "", **http2: Any) -> H2Env:
    """`extra`: more manifests (another route)."""
    cert_pem, key_pem = self_signed("app.test", names=["app.test", "grpc.test"])
    path = tmp_path / "apps.yaml"
    path.write_text(manifests(backend.port, cert_pem, key_pem) + (f"---\n{extra}" if extra else ""))
    static = StaticConfig(
        entrypoints=entrypoints(**http2),
        manifests=(str(path),),
        throttle_seconds=0.01,
        grace_period_seconds=2.0,
        access_log=True,
    )
    server = Server(static, ServerParts(providers=[ManifestsProvider([str(path)])], tls=CertificateStore()))
    await server.start()
    assert server.watcher is not None
    await server.watcher.wait_applied(1, 10)
    return H2Env(server, backend, cert_pem)


@pytest.fixture
async def env(tmp_path: Path, backend: Backend) -> AsyncIterator[H2Env]:
    e = await start_env(tmp_path, backend)
    yield e
    await e.server.stop()


# ---------------------------------------------------------------- a raw HTTP/2 client


@dataclass
class Stream:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])

    def json(self) -> Any:
        return json.loads(bytes(self.data))


class RawClient:
    """The h2 library as a client, headers unchecked (to send what a real client must not)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, window: int = 65535):
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.conn = h2.connection.H2Connection(config)
        self.reader = reader
        self.writer = writer
        self.streams: dict[int, Stream] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = False
        self.auto_ack = True
        self.conn.local_settings.initial_window_size = window

    @classmethod
    async def connect(cls, address: tuple[str, int], *, tls: bool, window: int = 65535) -> RawClient:
        ctx = None
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
        reader, writer = await asyncio.open_connection(
            *address, ssl=ctx, server_hostname="app.test" if tls else None
        )
        client = cls(reader, writer, window=window)
        client.conn.initiate_connection()
        await client.flush()
        return client

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)
            await self.writer.drain()

    def request_headers(
        self, path: str = "/echo", authority: str = "app.test", method: str = "GET"
    ) -> list[Any]:
        return [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path)]

    async def request(self, headers: list[Any], body: bytes | None = None) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.streams[stream_id] = Stream()
        self.conn.send_headers(stream_id, headers, end_stream=body is None)
        if body is not None:
            self.conn.send_data(stream_id, body, end_stream=True)
        await self.flush()
        return stream_id

    async def pump(self) -> None:
        """Read once and handle what arrived."""
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            stream_id = getattr(event, "stream_id", None)
            stream = self.streams.get(stream_id) if stream_id else None
            if isinstance(event, h2.events.ResponseReceived) and stream is not None:
                stream.headers = list(event.headers)  # type: ignore[arg-type]
            elif isinstance(event, h2.events.TrailersReceived) and stream is not None:
                stream.trailers = list(event.headers)  # type: ignore[arg-type]
            elif isinstance(event, h2.events.DataReceived) and stream is not None:
                stream.data += event.data or b""
                if self.auto_ack:
                    self.conn.acknowledge_received_data(event.flow_controlled_length or 0, stream_id or 0)
            elif isinstance(event, h2.events.StreamEnded) and stream is not None:
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset) and stream is not None:
                stream.reset = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = event
        await self.flush()

    async def until(self, done: Any, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                if self.closed:
                    raise ConnectionError("connection closed by the server")
                await self.pump()

    async def response(self, stream_id: int) -> Stream:
        stream = self.streams[stream_id]
        await self.until(lambda: stream.ended or stream.reset is not None)
        return stream

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
