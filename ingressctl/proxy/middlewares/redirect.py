"""redirect (ssl-redirect, redirect-entry-point, an entrypoint's redirect): send the client to
another entrypoint's scheme and port, keeping the path and query."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.exchange import Entrypoint, EntrypointInfo, Exchange
from ingressctl.routing.chain import RedirectSpec

log = logging.getLogger("ingressctl.proxy")


class Redirect:
    __slots__ = ("entrypoint", "permanent")

    name = RedirectSpec.name

    def __init__(self, spec: RedirectSpec) -> None:
        self.entrypoint = spec.entrypoint
        self.permanent = spec.permanent

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        # A route's redirect applies on the other entrypoints only: on its own target it would
        # send the client to the URL it just asked for (Traefik v1 does the same).
        if self.entrypoint == exchange.ep.name:
            return None
        request = exchange.request
        if arrived_as(request, exchange.ep, exchange.entrypoints, self.entrypoint):
            return None
        return redirect(
            request, exchange.entrypoints, exchange.host, exchange.target, self.entrypoint, self.permanent
        )


def arrived_as(
    request: BaseRequest, ep: Entrypoint, entrypoints: Mapping[str, EntrypointInfo], entrypoint: str
) -> bool:
    """A trusted proxy in front (a TLS-terminating load balancer) says the client already used the
    redirect's scheme: redirecting would loop (ingress-nginx skips it the same way)."""
    trusted = ep.trusted
    if not trusted:
        return False
    proto = request.headers.get("X-Forwarded-Proto")
    target = entrypoints.get(entrypoint)
    if proto is None or target is None or not trusted.contains(request.remote or ""):
        return False
    # The leftmost value is what the client used, when several proxies appended theirs.
    return proto.partition(",")[0].strip().lower() == target.scheme


def redirect(
    request: BaseRequest,
    entrypoints: Mapping[str, EntrypointInfo],
    host: str,
    target_uri: str,
    entrypoint: str,
    permanent: bool,
) -> web.Response:
    target = entrypoints.get(entrypoint)
    if target is None:
        log.error("redirect to unknown entrypoint %r", entrypoint)
        return error(500, "Internal Server Error")
    # The Host without its port (an IPv6 literal keeps its brackets).
    hostname = host[: host.find("]") + 1] if host.startswith("[") else host.partition(":")[0]
    if not hostname:
        return error(400, "Bad Request: missing Host header")
    default = 443 if target.scheme == "https" else 80
    port = "" if target.port == default else f":{target.port}"
    location = f"{target.scheme}://{hostname}{port}{target_uri}"
    status = (301 if request.method in ("GET", "HEAD") else 308) if permanent else 302
    return BareResponse(status=status, text=f"Redirecting to {location}\n", headers={"Location": location})
