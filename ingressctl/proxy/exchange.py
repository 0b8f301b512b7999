"""What a route's middlewares see of a request, and the interface they implement."""

from __future__ import annotations

from collections.abc import Mapping
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


class Outcome:
    """What the access log and the observer need to know about a finished request."""

    __slots__ = ("route_id", "service", "size", "status", "upstream", "user")

    def __init__(self) -> None:
        self.route_id = ""
        self.service = ""
        self.upstream = ""
        self.status = 0
        self.size = 0
        self.user = ""


class Exchange:
    """One request on its way through a route's chain. `path` (canonical, no query) is what the
    upstream will get; a middleware may rewrite it."""

    __slots__ = ("entrypoints", "ep", "host", "outcome", "path", "request", "route_id", "target")

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


class Middleware(Protocol):
    """One stage of a route's chain, its parameters parsed when the plan was built.

    `handle` answers the request (a redirect, a refusal) or returns None to let the next stage
    run. A decision rather than a `next` callable: a chain is a plain loop, with no closure per
    request, and a route without middlewares runs no loop at all.
    """

    @property
    def name(self) -> str: ...

    async def handle(self, exchange: Exchange) -> StreamResponse | None: ...
