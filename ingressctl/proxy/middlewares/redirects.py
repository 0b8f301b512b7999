"""app-root, redirect-regex and the fixed redirects of ingress-nginx (permanent-redirect,
temporal-redirect): answers that send the client elsewhere instead of forwarding."""

from __future__ import annotations

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.exchange import Exchange, request_scheme
from ingressctl.routing.chain_rewrites import (
    AppRootSpec,
    FixedRedirectSpec,
    RegexRedirectSpec,
    WwwRedirectSpec,
)
from ingressctl.routing.userregex import expand


def _answer(status: int, location: str) -> BareResponse:
    return BareResponse(status=status, text=f"Redirecting to {location}\n", headers={"Location": location})


class AppRoot:
    __slots__ = ("path", "status")

    name = AppRootSpec.name

    def __init__(self, spec: AppRootSpec) -> None:
        self.path = spec.path
        self.status = spec.status

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        if exchange.path != "/" or not exchange.host:
            return None
        # As ingress-nginx: scheme and Host as the client used them, the query is not kept.
        return _answer(self.status, f"{request_scheme(exchange)}://{exchange.host}{self.path}")


class RegexRedirect:
    __slots__ = ("permanent", "regex", "replacement")

    name = RegexRedirectSpec.name

    def __init__(self, spec: RegexRedirectSpec) -> None:
        self.regex = spec.regex
        self.replacement = spec.replacement
        self.permanent = spec.permanent

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        url = f"{request_scheme(exchange)}://{exchange.host}{exchange.target}"
        found = self.regex.search(url)
        if found is None:
            return None
        # As Traefik: the matched part is replaced, the rest of the URL stays.
        location = url[: found.start()] + expand(found, self.replacement) + url[found.end() :]
        if location == url:
            return None  # a redirect to the same URL would loop
        status = 302
        if self.permanent:
            status = 301 if exchange.request.method in ("GET", "HEAD") else 308
        return _answer(status, location)


class FixedRedirect:
    __slots__ = ("status", "url")

    name = FixedRedirectSpec.name

    def __init__(self, spec: FixedRedirectSpec) -> None:
        self.url = spec.url
        self.status = spec.status

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        return _answer(self.status, self.url)


class WwwRedirect:
    __slots__ = ("host",)

    name = WwwRedirectSpec.name

    def __init__(self, spec: WwwRedirectSpec) -> None:
        self.host = spec.host

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        _, colon, port = exchange.host.rpartition(":") if not exchange.host.endswith("]") else ("", "", "")
        authority = self.host + (":" + port if colon and port.isdigit() else "")
        return _answer(308, f"{request_scheme(exchange)}://{authority}{exchange.target}")
