"""What a route's middlewares see of a request, and the interface they implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.headers import TrustedNetworks


@dataclass(frozen=True, slots=True)
class EntrypointInfo:
    """What a redirect or a route restriction needs to know about an entrypoint."""

    name: str
    scheme: str  # "http" or "https"
    port: int  # the port it listens on


class Entrypoint(Protocol):
    """The entrypoint a request arrived on, as middlewares see it."""

    @property
    def name(self) -> str: ...

    @property
    def trusted(self) -> TrustedNetworks: ...


HeaderEdits = dict[bytes, tuple[bytes, bytes] | None]
"""Request headers for the upstream that middlewares set ((name, value)) or remove (None), keyed by
lower-case name; applied where the upstream request head is built (proxy/forward.py)."""


class Outcome:
    """What the access log and the observer need to know about a finished request."""

    __slots__ = ("refused_by", "route_id", "service", "size", "status", "upstream", "user")

    def __init__(self) -> None:
        # The middleware that refused the request to protect the route (rate-limit, ...), for /metrics.
        self.refused_by = ""
        self.route_id = ""
        self.service = ""
        self.upstream = ""
        self.status = 0
        self.size = 0
        self.user = ""


class Exchange:
    """One request on its way through a route's chain. `path` (canonical, no query) is what the
    upstream will get; a middleware may rewrite it."""

    __slots__ = (
        "entrypoints",
        "ep",
        "header_edits",
        "host",
        "on_done",
        "outcome",
        "path",
        "request",
        "route_id",
        "target",
    )

    def __init__(
        self,
        request: BaseRequest,
        ep: Entrypoint,
        entrypoints: Mapping[str, EntrypointInfo],
        host: str,
        target: str,
        path: str,
        route_id: str,
        outcome: Outcome,
    ) -> None:
        self.request = request
        self.ep = ep
        self.entrypoints = entrypoints
        self.host = host
        self.target = target  # the request target as received (origin form): path and query
        self.path = path
        self.route_id = route_id
        self.outcome = outcome
        self.header_edits: HeaderEdits | None = None
        self.on_done: list[Callable[[], None]] | None = None

    def set_upstream_header(self, name: str, value: str) -> None:
        if self.header_edits is None:
            self.header_edits = {}
        self.header_edits[name.lower().encode("latin-1")] = (
            name.encode("latin-1"),
            value.encode("latin-1", "replace"),
        )

    def remove_upstream_header(self, name: str) -> None:
        if self.header_edits is None:
            self.header_edits = {}
        self.header_edits[name.lower().encode("latin-1")] = None

    def when_done(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the request is answered, whichever stage answers it (a release of
        an in-flight slot, say)."""
        if self.on_done is None:
            self.on_done = []
        self.on_done.append(callback)

    def finish(self) -> None:
        callbacks, self.on_done = self.on_done, None
        for callback in callbacks or ():
            callback()


class Middleware(Protocol):
    """One stage of a route's chain, its parameters parsed when the plan was built.

    `handle` answers the request (a redirect, a refusal) or returns None to let the next stage
    run. A decision rather than a `next` callable: a chain is a plain loop, with no closure per
    request, and a route without middlewares runs no loop at all.
    """

    @property
    def name(self) -> str: ...

    async def handle(self, exchange: Exchange) -> StreamResponse | None: ...
