"""request-headers and response-headers: Traefik's custom request/response headers, its security
headers (HSTS, X-Frame-Options, ...), ingress-nginx's x-forwarded-prefix, and the Host the backend
sees (preserve-host, service.passhostheader, upstream-vhost)."""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.exchange import BodyEncoder, ConstantEdits, Exchange, arrived_over_tls
from ingressctl.proxy.relayed import HeadTail, has_head_controls
from ingressctl.routing.chain_rewrites import RequestHeadersSpec, ResponseHeadersSpec


class RequestHeaders:
    __slots__ = ("_set_map", "edits", "host", "pass_host", "set_only")

    name = RequestHeadersSpec.name

    def __init__(self, spec: RequestHeadersSpec) -> None:
        self.edits = [(edit.name, edit.value, edit.append) for edit in spec.edits]
        self.host = spec.host
        self.pass_host = spec.pass_host
        # Without an appended value the edits do not depend on the request: encoded once here,
        # as Exchange.set_upstream_header / remove_upstream_header would encode them per request.
        self.set_only: list[tuple[bytes, tuple[bytes, bytes] | None]] | None = None
        if not any(append for _, _, append in self.edits):
            try:
                self.set_only = [
                    (
                        name.lower().encode("latin-1"),
                        (name.encode("latin-1"), value.encode("latin-1", "replace")) if value else None,
                    )
                    for name, value, _ in self.edits
                ]
            except UnicodeEncodeError:  # a name the per-request path refuses the same way
                self.set_only = None
        # The same edits as one dict, shared by the route's requests (merged in one call when an
        # earlier stage edited headers too), with the head's lines for them serialised once.
        self._set_map = ConstantEdits(self.set_only or [])

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        return self.check(exchange)

    def check(self, exchange: Exchange) -> StreamResponse | None:
        set_only = self.set_only
        if set_only:
            if exchange.header_edits is None:
                exchange.header_edits = self._set_map
            else:
                exchange.editable_headers().update(self._set_map)
        elif set_only is None:
            for name, value, append in self.edits:
                if append:
                    exchange.set_upstream_header(name, _appended(exchange, name, value))
                elif value:
                    exchange.set_upstream_header(name, value)
                else:
                    exchange.remove_upstream_header(name)
        if self.host:
            exchange.upstream_host = self.host
        elif not self.pass_host:
            exchange.pass_host = False
        return None


def _appended(exchange: Exchange, name: str, value: str) -> str:
    """The header's values so far (as edited by earlier stages) with `value` added, comma-joined."""
    edits = exchange.header_edits
    key = name.lower().encode("latin-1")
    if edits is not None and key in edits:
        edited = edits[key]
        current = [edited[1].decode("latin-1")] if edited is not None else []
    else:
        current = exchange.request.headers.getall(name, [])
    return ",".join([*current, value])


class ResponseHeaders:
    """Registers itself as a response filter: every answer of the route gets the headers, the
    backend's and the proxy's own (redirects, refusals, 502s) alike."""

    __slots__ = (
        "_added",
        "_checked",
        "_clear",
        "_plain",
        "_plain_tail",
        "_same",
        "_tls",
        "_tls_tail",
        "tls_headers",
    )

    name = ResponseHeadersSpec.name

    def __init__(self, spec: ResponseHeadersSpec) -> None:
        custom = [(edit.name, edit.value) for edit in spec.edits if not edit.append]
        # The Gateway API's `add`: the value joins the response's own values of the header.
        self._added = [(edit.name, edit.value) for edit in spec.edits if edit.append]
        security = spec.security
        # Custom headers are applied after the security headers, so they can override them.
        self._tls = _last_wins([*(security.response_headers(True) if security else ()), *custom])
        self._plain = _last_wins([*(security.response_headers(False) if security else ()), *custom])
        self.tls_headers = spec.tls_headers
        # Without HSTS both sets are the same: no need to ask, per response, how the client came.
        self._same = self._tls == self._plain
        # Every pair this filter can add is free of control characters: a relayed head it edited
        # needs no second search for one (Exchange.clean_filters).
        every = [*self._tls[1], *self._plain[1], *self._added]
        self._checked = not any(has_head_controls(name) or has_head_controls(value) for name, value in every)
        # The pairs as the relayed head writes them, serialised once (None: pair by pair).
        self._tls_tail = _tail(self._tls[1])
        self._plain_tail = _tail(self._plain[1])
        # Response header names as received (any case) that are none of the names this filter
        # replaces: a head made only of those is left as it is after a set look-up per name, no
        # lower-casing. Bounded: a backend inventing names cannot grow it.
        self._clear: set[str] = set()

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        return self.check(exchange)

    def check(self, exchange: Exchange) -> StreamResponse | None:
        exchange.response_filters.append(self)
        if self._checked:
            exchange.clean_filters += 1
        return None

    def on_response(
        self,
        exchange: Exchange,
        status: int,
        headers: list[tuple[str, str]],
        relayed: bool,
        length: int | None = None,
    ) -> BodyEncoder | None:
        if self._same:
            names, edits = self._plain
            tail = self._plain_tail
        elif arrived_over_tls(exchange, self.tls_headers):
            names, edits = self._tls
            tail = self._tls_tail
        else:
            names, edits = self._plain
            tail = self._plain_tail
        if self._added:
            headers[:] = _add_values(headers, self._added)
        # (The names compared without a Python loop: this runs for every answer of the route.)
        clear = self._clear
        if not clear.issuperset(map(_NAME, headers)):
            if not names.isdisjoint(map(str.lower, map(_NAME, headers))):
                # the route's value replaces the response's own
                headers[:] = [(n, v) for n, v in headers if n.lower() not in names]
            if len(clear) < _CLEAR_KEPT:
                # (Either set's names: a HSTS filter's two sets differ by the names it adds.)
                replaced = self._tls[0] | self._plain[0]
                clear.update(n for n, _ in headers if n.lower() not in replaced)
        headers.extend(edits)
        exchange.head_tail = tail
        return None


_NAME: Final = itemgetter(0)
_CLEAR_KEPT: Final = 256


def _tail(pairs: list[tuple[str, str]]) -> HeadTail | None:
    if not pairs or any(name.lower() in ("content-length", "date") for name, _ in pairs):
        return None
    return HeadTail(pairs)


def _last_wins(pairs: list[tuple[str, str]]) -> tuple[frozenset[str], list[tuple[str, str]]]:
    """The names to take out of a response and the headers to put in (an empty value only removes)."""
    final: dict[str, tuple[str, str]] = {}
    for name, value in pairs:
        final[name.lower()] = (name, value)
    return frozenset(final), [pair for pair in final.values() if pair[1]]


def _add_values(headers: list[tuple[str, str]], added: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = list(headers)
    for name, value in added:
        lower = name.lower()
        current = [v for n, v in out if n.lower() == lower]
        out = [(n, v) for n, v in out if n.lower() != lower]
        out.append((name, ",".join([*current, value])))
    return out
