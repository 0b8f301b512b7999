"""What a route's middlewares see of a request, and the interface they implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.headers import FORWARDED, HOP_BY_HOP, TrustedNetworks
from ingressctl.proxy.relayed import HeadTail


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
lower-case name; applied where the upstream request head is built (proxy/forward_head.py)."""

REQUEST_DROP: Final = HOP_BY_HOP | {b"expect"}
"""Request headers never sent upstream as received (hop-by-hop ones, Expect)."""


class ConstantEdits(dict[bytes, tuple[bytes, bytes] | None]):
    """Header edits that do not depend on the request, built once per plan (request-headers without
    appended values) and shared by the requests of the route: never edited in place (Exchange
    copies it before a further edit). `drop` and `lines` are what the upstream head's builder
    derives from the edits for a request whose Connection header names no extra header: the
    received headers it leaves out, and the edited headers' lines, serialised once."""

    __slots__ = ("drop", "lines")

    def __init__(self, edits: list[tuple[bytes, tuple[bytes, bytes] | None]]) -> None:
        super().__init__(edits)
        # Forwarded headers and Host are never edited: the head's builder sets those itself.
        own = {name for name in self if name not in FORWARDED and name != b"host"}
        self.drop: frozenset[bytes] = REQUEST_DROP | own
        self.lines = b"".join(
            edit[0] + b": " + edit[1] + b"\r\n"
            for name, edit in self.items()
            if edit is not None and name in own and name not in REQUEST_DROP
        )


class Outcome:
    """What the access log and the observer need to know about a finished request."""

    __slots__ = (
        "filtered",
        "quiet",
        "refused_by",
        "route_id",
        "service",
        "size",
        "status",
        "upstream",
        "user",
    )

    def __init__(self) -> None:
        # The middleware that refused the request to protect the route (rate-limit, ...), for /metrics.
        self.refused_by = ""
        self.route_id = ""
        self.service = ""
        self.upstream = ""
        self.status = 0
        self.size = 0
        self.user = ""
        self.filtered = False  # the response filters of the route's chain have run
        self.quiet = False  # ingress-nginx enable-access-log: false: no access-log line


class BodyEncoder(Protocol):
    """Transforms a response body as it streams (compression)."""

    def encode(self, data: bytes | memoryview) -> bytes: ...

    def finish(self) -> bytes: ...


class BodyTap(Protocol):
    """Sees the request body as it streams to the upstream (a mirror's copy): every chunk read from
    the client, then `end` once the whole body was read. Never told about a body that failed."""

    def feed(self, data: bytes) -> None: ...

    def end(self) -> None: ...


class ResponseFilter(Protocol):
    """Edits a response head on its way to the client, registered by a middleware for one request.

    `headers` is the head's (name, value) list, edited in place; `relayed` is False for the
    proxy's own answers (redirects, refusals, errors), whose bodies are never transformed;
    `length` is the body's length when known. Returns an encoder when the body must be
    transformed too.
    """

    def on_response(
        self,
        exchange: Exchange,
        status: int,
        headers: list[tuple[str, str]],
        relayed: bool,
        length: int | None = None,
    ) -> BodyEncoder | None: ...


class Exchange:
    """One request on its way through a route's chain. `path` (canonical, no query) is what the
    upstream will get; a middleware may rewrite it, edit the request headers sent upstream
    (set_upstream_header / remove_upstream_header), choose the Host the backend sees, and register
    response filters (applied in reverse order, innermost first)."""

    __slots__ = (
        "body_tap",
        "clean_filters",
        "entrypoints",
        "ep",
        "head_tail",
        "header_edits",
        "host",
        "on_done",
        "outcome",
        "pass_host",
        "path",
        "request",
        "response_filters",
        "route_id",
        "target",
        "upstream_host",
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
        self.upstream_host = ""  # non-empty: the Host header the backend sees
        self.pass_host = True  # False: the backend sees its own address as Host
        self.response_filters: list[ResponseFilter] = []
        # How many of response_filters add only header pairs checked for control characters when
        # the plan was built (see ingressctl.proxy.relayed.serialise_head's `clean`); a filter
        # that does not count itself here makes the relayed head be searched again.
        self.clean_filters = 0
        # The pairs the last response filter appended, serialised when the plan was built.
        self.head_tail: HeadTail | None = None
        self.body_tap: BodyTap | None = None  # set by a middleware that copies the request body

    def editable_headers(self) -> HeaderEdits:
        """The request's header edits, to change in place (a route's shared ConstantEdits copied)."""
        edits = self.header_edits
        if edits is None or type(edits) is not dict:
            edits = self.header_edits = dict(edits or ())
        return edits

    def set_upstream_header(self, name: str, value: str) -> None:
        self.editable_headers()[name.lower().encode("latin-1")] = (
            name.encode("latin-1"),
            value.encode("latin-1", "replace"),
        )

    def remove_upstream_header(self, name: str) -> None:
        self.editable_headers()[name.lower().encode("latin-1")] = None

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

    def filter_response(
        self, status: int, headers: list[tuple[str, str]], relayed: bool, length: int | None = None
    ) -> BodyEncoder | None:
        """Run the response filters on a head (innermost first); the body encoder, if any."""
        filters = self.response_filters
        if len(filters) == 1:  # the usual case: no reversed walk
            return filters[0].on_response(self, status, headers, relayed, length)
        encoder: BodyEncoder | None = None
        for response_filter in reversed(filters):
            found = response_filter.on_response(self, status, headers, relayed, length)
            if found is not None and encoder is None:
                encoder = found
        return encoder


class Middleware(Protocol):
    """One stage of a route's chain, its parameters parsed when the plan was built.

    `handle` answers the request (a redirect, a refusal) or returns None to let the next stage
    run. A decision rather than a `next` callable: a chain is a plain loop, with no closure per
    request, and a route without middlewares runs no loop at all. A middleware that seldom needs
    to suspend also has a synchronous `check` (see stages_of): the handler calls that instead.
    """

    @property
    def name(self) -> str: ...

    async def handle(self, exchange: Exchange) -> StreamResponse | None: ...


class Suspend:
    """What a synchronous `check` returns when this request needs the middleware's coroutine."""

    __slots__ = ()


SUSPEND: Final = Suspend()


Check = Callable[[Exchange], StreamResponse | Suspend | None]
Stage = tuple[Check | None, Middleware]
"""One stage of a chain as the handler runs it: the middleware's `check` (None: it has none), and
the middleware itself."""


def stages_of(chain: tuple[Middleware, ...]) -> tuple[Stage, ...]:
    """The chain with each stage's synchronous check looked up once, when the plan is built.

    A middleware that decides most requests without suspending has a `check`: `handle` run
    synchronously (no coroutine per request), or SUSPEND when `handle` must run instead (a
    password hash off the loop, say). Nothing may differ between the two but the coroutine.
    (Looked up by name: an isinstance check against a runtime Protocol costs microseconds per
    middleware, for every route of every reload.)
    """
    stages: list[Stage] = []
    for middleware in chain:
        check: Check | None = getattr(middleware, "check", None)
        stages.append((check, middleware))
    return tuple(stages)


def arrived_over_tls(exchange: Exchange, tls_headers: tuple[tuple[str, str], ...] = ()) -> bool:
    """The client used TLS: a TLS entrypoint, a trusted proxy's X-Forwarded-Proto, or one of the
    route's ssl-proxy-headers (Traefik believes those from anyone: they only switch a redirect off)."""
    info = exchange.entrypoints.get(exchange.ep.name)
    if info is not None and info.scheme == "https":
        return True
    request = exchange.request
    trusted = exchange.ep.trusted
    if trusted.configured and trusted.contains(request.remote or ""):
        proto = request.headers.get("X-Forwarded-Proto")
        if proto is not None and proto.partition(",")[0].strip().lower() == "https":
            return True
    headers = request.headers
    return any(headers.get(name) == value for name, value in tls_headers)


def https_entrypoint(entrypoints: Mapping[str, EntrypointInfo]) -> EntrypointInfo | None:
    """Where an https redirect goes: the entrypoint named https, else websecure, else the first TLS one."""
    for name in ("https", "websecure"):
        found = entrypoints.get(name)
        if found is not None and found.scheme == "https":
            return found
    return next((e for e in entrypoints.values() if e.scheme == "https"), None)


def request_scheme(exchange: Exchange) -> str:
    info = exchange.entrypoints.get(exchange.ep.name)
    return info.scheme if info is not None else "http"


def bare_host(host: str) -> str:
    """The Host header without its port (an IPv6 literal keeps its brackets), lower case."""
    name = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]
    return name.lower().rstrip(".")
