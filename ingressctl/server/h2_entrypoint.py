"""What the HTTP/2 connections of one entrypoint share, and their graceful shutdown.

Kept apart from ingressctl.server.h2_connection (the per-connection protocol) so the server's wiring
(server/run.py) holds entrypoints without reaching into a connection's internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.config import ConnectionLimits
from ingressctl.model.http2 import Http2Settings

Handler = Callable[[BaseRequest], Awaitable[StreamResponse]]

# RFC 9113 §3.4: here, not in h2_connection, so that spotting it does not import the h2 library.
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Draining(Protocol):
    """An open HTTP/2 connection as shutdown sees it (ingressctl.server.h2_connection)."""

    @property
    def busy(self) -> bool: ...

    def goaway(self) -> None: ...

    def abort(self) -> list[str]: ...


@dataclass(slots=True)
class H2Entrypoint:
    """What every HTTP/2 connection of one entrypoint shares."""

    name: str
    handler: Handler
    settings: Http2Settings
    limits: ConnectionLimits
    on_open: Callable[[str], None] | None = None
    on_close: Callable[[str], None] | None = None
    # The open connections (for graceful shutdown).
    connections: set[Draining] = field(default_factory=set)


async def shutdown(entrypoints: list[H2Entrypoint], deadline: float) -> list[str]:
    """GOAWAY on every HTTP/2 connection, wait (until loop time `deadline`) for their streams, then
    cut the rest; returns what was cut."""
    loop = asyncio.get_running_loop()
    connections = [c for ep in entrypoints for c in list(ep.connections)]
    for conn in connections:
        conn.goaway()
    while any(c.busy for c in connections) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    cut: list[str] = []
    for conn in connections:
        if conn.busy:
            cut.extend(conn.abort())
    return cut
