"""HTTPRoute RequestMirror copies the request body (bounded by --gateway-mirror-body-limit) to a real
mirror backend while the main request streams to its own backend unchanged; a body over the limit is
not mirrored (never truncated). Through a real `ingressctl serve --gateway` reading files."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.serve.gateway_manifests import one_listener_gateway
from tests.serve.gateway_support import service
from tests.support.polling import eventually
from tests.support.ports import free_port

from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(120)

LIMIT = 64 * 1024


@dataclass
class Recorder:
    """A backend that answers with the digest of the body it read, and remembers (path, body)."""

    seen: list[tuple[str, bytes]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> Recorder:
        async def handler(request: web.Request) -> web.Response:
            body = await request.read()
            self.seen.append((request.path_qs, body))
            return web.Response(text=f"{len(body)} {hashlib.sha256(body).hexdigest()}")

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", handler)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    def bodies(self, path: str) -> list[bytes]:
        return [body for seen_path, body in self.seen if seen_path == path]


@pytest.fixture
async def recorders() -> AsyncIterator[tuple[Recorder, Recorder]]:
    main, mirror = await Recorder().start(), await Recorder().start()
    yield main, mirror
    for recorder in (main, mirror):
        assert recorder.runner is not None
        await recorder.runner.cleanup()


def manifests(port: int, main: int, mirror: int) -> str:
    return "---\n".join(
        [
            one_listener_gateway(port),
            """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mirrored, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  hostnames: [mirror.test]
  rules:
  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 8080}}}]
    backendRefs: [{name: main, port: 8080}]
""",
            service("main", "infra", main),
            service("shadow", "infra", mirror),
        ]
    )


async def _post(port: int, path: str, body: bytes | AsyncIterator[bytes]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(f"http://127.0.0.1:{port}{path}", data=body, headers={"Host": "mirror.test"}) as resp,
    ):
        return resp.status, await resp.text()


def _digest(body: bytes) -> str:
    return f"{len(body)} {hashlib.sha256(body).hexdigest()}"


async def test_the_mirror_gets_the_body_and_a_body_over_the_limit_is_not_mirrored(
    tmp_path: Path, serve: Callable[..., ServeProcess], recorders: tuple[Recorder, Recorder]
) -> None:
    main, mirror = recorders
    port = free_port()
    (tmp_path / "gw.yaml").write_text(manifests(port, main.port, mirror.port))
    sp = serve(
        "--gateway",
        "--entrypoint",
        f"web=127.0.0.1:{port}",
        "--manifests",
        str(tmp_path),
        "--gateway-mirror-body-limit",
        str(LIMIT),
    )
    await asyncio.to_thread(sp.wait_ready)

    # A body with Content-Length, under the limit: both backends get it whole.
    small = os.urandom(40_000)
    assert await _post(port, "/upload?n=1", small) == (200, _digest(small))
    await eventually(lambda: bool(mirror.bodies("/upload?n=1")), "the mirror's copy", timeout=30)
    assert mirror.bodies("/upload?n=1") == [small]

    # A chunked body (no Content-Length), under the limit: copied as it streamed.
    parts = [os.urandom(10_000) for _ in range(5)]

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part
            await asyncio.sleep(0.01)

    whole = b"".join(parts)
    assert await _post(port, "/upload?n=2", chunks()) == (200, _digest(whole))
    await eventually(
        lambda: bool(mirror.bodies("/upload?n=2")), "the mirror's copy of a chunked body", timeout=30
    )
    assert mirror.bodies("/upload?n=2") == [whole]

    # Over the limit (announced, then growing while chunked): the main backend gets all of it,
    # the mirror nothing (no truncated copy). A later small request shows the mirror still works.
    large = os.urandom(3 * LIMIT)
    assert await _post(port, "/upload?n=3", large) == (200, _digest(large))

    async def growing() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield os.urandom(LIMIT // 2)

    status, text = await _post(port, "/upload?n=4", growing())
    assert status == 200 and text.startswith(f"{2 * LIMIT} ")
    assert await _post(port, "/upload?n=5", b"after") == (200, _digest(b"after"))
    await eventually(lambda: bool(mirror.bodies("/upload?n=5")), "the copy after the large ones", timeout=30)
    assert mirror.bodies("/upload?n=5") == [b"after"]
    assert mirror.bodies("/upload?n=3") == [] and mirror.bodies("/upload?n=4") == []
    assert [path for path, _ in main.seen] == [f"/upload?n={n}" for n in range(1, 6)]
