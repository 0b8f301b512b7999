"""SIGTERM drains requests in flight for one grace period, then aborts (and names) what is left."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.manifests import write_apps

from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(60)

GRACE = 2.0
# For tests about NOT waiting for the grace period: so long that a server that waited would fail the
# deadline by far, while a loaded machine stays far within it (no wall-clock limit near the goal).
LONG_GRACE = 60.0


@dataclass
class SlowBackend:
    """Answers /sleep?s=N after N seconds; `started` tells when a request has reached it."""

    port: int = 0
    started: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def slow_backend() -> AsyncIterator[SlowBackend]:
    backend = SlowBackend()

    async def handler(request: web.Request) -> web.Response:
        backend.started.put_nowait(request.path_qs)
        await asyncio.sleep(float(request.query.get("s", "0")))
        return web.Response(text=f"slept {request.query.get('s', '0')}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    backend.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    yield backend
    await runner.cleanup()


def _start(
    tmp_path: Path, serve: Callable[..., ServeProcess], backend: SlowBackend, *args: str, grace: float = GRACE
) -> ServeProcess:
    write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", backend.port)])
    config = tmp_path / "traefik.toml"
    config.write_text(f'graceTimeOut = "{grace:g}s"\n')
    return serve(
        "--config",
        str(config),
        "--manifests",
        str(tmp_path / "apps.yaml"),
        "--entrypoint",
        "web=127.0.0.1:0",
        *args,
    )


def _wait_applied(sp: ServeProcess, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sum("configuration applied" in line for line in sp.lines) < count:
        assert time.monotonic() < deadline, f"{count} processes did not apply the configuration:\n{sp.text}"
        time.sleep(0.05)


async def _sigterm_and_wait(sp: ServeProcess, deadline: float = GRACE + 20) -> tuple[int, float]:
    """SIGTERM, then (exit code, seconds until the process was gone); fails after `deadline` seconds."""
    started = time.monotonic()
    sp.signal(signal.SIGTERM)
    code = await asyncio.to_thread(sp.proc.wait, deadline)
    return code, time.monotonic() - started


@pytest.mark.parametrize("workers", [1, 2])
async def test_request_slower_than_the_grace_period_is_aborted_and_named(
    tmp_path: Path, slow_backend: SlowBackend, serve: Callable[..., ServeProcess], workers: int
) -> None:
    sp = _start(tmp_path, serve, slow_backend, "--workers", str(workers))
    await asyncio.to_thread(sp.wait_ready)
    # Each worker has its own table: the request must not reach one that has none yet.
    await asyncio.to_thread(_wait_applied, sp, workers)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        slow = asyncio.ensure_future(s.get(sp.url("/sleep?s=30"), headers={"Host": "app.test"}))
        await asyncio.wait_for(slow_backend.started.get(), 10)
        code, elapsed = await _sigterm_and_wait(sp)
        with pytest.raises(aiohttp.ClientError):
            await slow

    assert code == 0, sp.text
    # It waited for the request for the grace period (and then aborted it, once: see below).
    assert elapsed >= GRACE - 0.2, f"stopped {elapsed:.2f}s after SIGTERM:\n{sp.text}"
    aborted = [line for line in sp.lines if "aborted" in line]
    assert len(aborted) == 1, sp.text
    assert "WARNING" in aborted[0] or "warning" in aborted[0], aborted[0]
    assert (
        "aborted 1 request still in flight after the 2s grace period: GET app.test/sleep from 127.0.0.1"
        in (aborted[0])
    )
    assert "Traceback" not in sp.text


async def test_request_within_the_grace_period_completes_after_sigterm(
    tmp_path: Path, slow_backend: SlowBackend, serve: Callable[..., ServeProcess]
) -> None:
    sp = _start(tmp_path, serve, slow_backend, grace=LONG_GRACE)
    await asyncio.to_thread(sp.wait_ready)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        quick = asyncio.ensure_future(s.get(sp.url("/sleep?s=0.8"), headers={"Host": "app.test"}))
        await asyncio.wait_for(slow_backend.started.get(), 10)
        # The drain ends with the last request, not with the (60 s) grace period.
        code, _ = await _sigterm_and_wait(sp, deadline=LONG_GRACE / 3)
        response = await quick
        assert response.status == 200
        assert await response.text() == "slept 0.8"

    assert code == 0, sp.text
    assert not [line for line in sp.lines if "aborted" in line], sp.text
    assert "Traceback" not in sp.text


async def test_idle_server_stops_at_once(
    tmp_path: Path, slow_backend: SlowBackend, serve: Callable[..., ServeProcess]
) -> None:
    sp = _start(tmp_path, serve, slow_backend, grace=LONG_GRACE)
    await asyncio.to_thread(sp.wait_ready)
    # An idle keep-alive connection holds no request: it must not hold the shutdown (60 s grace) either.
    async with aiohttp.ClientSession() as s:
        async with s.get(sp.url("/sleep?s=0"), headers={"Host": "app.test"}) as r:
            assert r.status == 200
        code, _ = await _sigterm_and_wait(sp, deadline=LONG_GRACE / 3)
    assert code == 0, sp.text
