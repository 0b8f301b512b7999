"""HTTPRoute RequestMirror: a copy of the request goes to another backend, fire-and-forget.

Bounded so that a slow mirror can never hold the proxy back: at most MAX_IN_FLIGHT copies per
route are on their way (more are dropped, not queued), each gets TIMEOUT seconds, and its answer
is read and thrown away. The copy carries the request's method, target, headers and body.

The body is copied as it streams to the main backend (a tap on the forwarding loop: the main
request is neither delayed nor altered) into a buffer of at most the route's `max_body` bytes
(`serve --gateway-mirror-body-limit`). The copy is sent once the whole body was read from the
client; a body over the limit (by its Content-Length, or as it grows) is not mirrored at all,
rather than sent truncated: a backend must not take part of a body for all of it. Nor is the copy
of a body the client did not finish. So memory stays under MAX_IN_FLIGHT x max_body per route.
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
from ingressctl.proxy.exchange import BodyTap, Exchange
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
    __slots__ = ("_next", "in_flight", "max_body", "over_limit", "percent", "service", "upstreams")

    name = MirrorSpec.name

    def __init__(self, spec: MirrorSpec) -> None:
        self.upstreams = spec.upstreams
        self.service = spec.service
        self.percent = spec.percent
        self.max_body = spec.max_body
        self.in_flight = 0
        self.over_limit = 0  # copies not sent: the body was larger than max_body
        self._next = itertools.cycle(range(len(spec.upstreams)))

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        if self.in_flight >= MAX_IN_FLIGHT:
            return None  # dropped: the mirror is slower than the traffic
        if self.percent < 100 and random.random() * 100 >= self.percent:
            return None
        request = exchange.request
        length = request.content_length
        if request.body_exists and length is not None and length > self.max_body:
            self._too_large()
            return None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_COPIED}
        headers["Host"] = exchange.host
        url = f"http://{self.upstreams[next(self._next)]}{exchange.target}"
        self.in_flight += 1
        if not request.body_exists or length == 0:
            self._start(request.method, url, headers, None)
            return None
        copy = _BodyCopy(self, request.method, url, headers)
        exchange.body_tap = copy if exchange.body_tap is None else _Both(exchange.body_tap, copy)
        exchange.when_done(copy.abandon)
        return None

    def _too_large(self) -> None:
        self.over_limit += 1
        log.debug("mirror copy to %s not sent: the body is larger than %d bytes", self.service, self.max_body)

    def _start(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        task = asyncio.get_running_loop().create_task(self._send(method, url, headers, body))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        try:
            async with _session().request(
                method, url, headers=headers, data=body, allow_redirects=False
            ) as answer:
                await answer.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("mirror copy to %s failed: %s", self.service, exc)
        finally:
            self.in_flight -= 1


class _BodyCopy:
    """One request's body on its way to one mirror: gathered as the forwarding loop reads it, sent
    when it ended, forgotten when it grows over the limit or the request ends without it."""

    __slots__ = ("_chunks", "_done", "_headers", "_method", "_mirror", "_size", "_url")

    def __init__(self, mirror: Mirror, method: str, url: str, headers: dict[str, str]) -> None:
        self._mirror = mirror
        self._method = method
        self._url = url
        self._headers = headers
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            return
        self._size += len(data)
        if self._size > self._mirror.max_body:
            self._mirror._too_large()
            self._give_up()
            return
        self._chunks.append(bytes(data))

    def end(self) -> None:
        if self._done:
            return
        self._done = True
        body = b"".join(self._chunks)
        self._chunks = []
        self._mirror._start(self._method, self._url, self._headers, body)  # owns the in-flight slot

    def abandon(self) -> None:
        """The request is answered: a body not read whole by now is not mirrored."""
        if not self._done:
            self._give_up()

    def _give_up(self) -> None:
        self._done = True
        self._chunks = []
        self._mirror.in_flight -= 1


class _Both:
    """Two taps on one body (a rule with more than one RequestMirror)."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: BodyTap, second: BodyTap) -> None:
        self._first = first
        self._second = second

    def feed(self, data: bytes) -> None:
        self._first.feed(data)
        self._second.feed(data)

    def end(self) -> None:
        self._first.end()
        self._second.end()
