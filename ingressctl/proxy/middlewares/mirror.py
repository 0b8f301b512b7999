"""HTTPRoute RequestMirror: a copy of the request goes to another backend, fire-and-forget.

Bounded so that a slow mirror can never hold the proxy back: at most MAX_IN_FLIGHT copies per
route are on their way (more are dropped, not queued), each gets TIMEOUT seconds, and its answer
is read and thrown away. The copy carries the request's method, target and headers; a request
body is not copied (the original streams to its backend, and buffering it would cost memory).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from typing import Final

import aiohttp
from aiohttp.web_response import StreamResponse

from ingressctl.gateway.chain import MirrorSpec
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import HOP_BY_HOP_NAMES

log = logging.getLogger("ingressctl.proxy")

MAX_IN_FLIGHT: Final = 64
TIMEOUT: Final = 5.0
_NOT_COPIED: Final = HOP_BY_HOP_NAMES | {"content-length", "expect", "transfer-encoding"}

_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
_tasks: set[asyncio.Task[None]] = set()


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        for other in [lp for lp in _sessions if lp.is_closed()]:
            del _sessions[other]
        session = _sessions[loop] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
        )
    return session


async def close_mirror_sessions() -> None:
    """Cancel copies still on their way and close this loop's session (the proxy's shutdown)."""
    for task in list(_tasks):
        task.cancel()
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


class Mirror:
    __slots__ = ("_next", "in_flight", "percent", "service", "upstreams")

    name = MirrorSpec.name

    def __init__(self, spec: MirrorSpec) -> None:
        self.upstreams = spec.upstreams
        self.service = spec.service
        self.percent = spec.percent
        self.in_flight = 0
        self._next = itertools.cycle(range(len(spec.upstreams)))

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        if self.in_flight >= MAX_IN_FLIGHT:
            return None  # dropped: the mirror is slower than the traffic
        if self.percent < 100 and random.random() * 100 >= self.percent:
            return None
        request = exchange.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_COPIED}
        headers["Host"] = exchange.host
        url = f"http://{self.upstreams[next(self._next)]}{exchange.target}"
        self.in_flight += 1
        task = asyncio.get_running_loop().create_task(self._send(request.method, url, headers))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        return None

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> None:
        try:
            async with _session().request(method, url, headers=headers, allow_redirects=False) as answer:
                await answer.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("mirror copy to %s failed: %s", self.service, exc)
        finally:
            self.in_flight -= 1
