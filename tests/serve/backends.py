"""Real HTTP backends on loopback for serve tests: each answers with the address it listens on."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Backend:
    host: str
    port: int = 0
    runner: web.AppRunner | None = None
    hits: int = 0

    async def start(self) -> Backend:
        async def handler(request: web.Request) -> web.Response:
            self.hits += 1
            return web.Response(text=f"{self.host} {request.headers.get('Host', '')}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@dataclass
class Load:
    """Constant, bounded concurrent load: `workers` clients in a loop, each request bounded in time."""

    url: str
    host: str
    workers: int = 6
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    by_body: dict[str, int] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            try:
                async with session.get(self.url, headers={"Host": self.host}) as resp:
                    body = await resp.text()
                    if resp.status != 200:
                        self.failures.append(f"{resp.status} {body[:80]}")
                    else:
                        self.ok += 1
                        who = body.split()[0]
                        self.by_body[who] = self.by_body.get(who, 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")

    async def __aenter__(self) -> Load:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._tasks = [asyncio.create_task(self._worker(self._session)) for _ in range(self.workers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._session.close()

    def seen(self) -> dict[str, int]:
        """Responses per backend since the last call (and reset)."""
        seen, self.by_body = self.by_body, {}
        return seen
