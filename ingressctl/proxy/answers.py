"""The proxy's own answers: plain-text errors, and the 502/504 for a failed upstream."""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web
from aiohttp.web_request import BaseRequest

from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.upstream import UpstreamError

log = logging.getLogger("ingressctl.proxy")


class ProxyAnswer(BareResponse):
    """An answer the proxy made itself (not relayed from a backend): a gRPC client gets it as a
    grpc-status instead (ingressctl.proxy.grpc)."""


def error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return ProxyAnswer(status=status, text=text + "\n", headers=headers)


def upstream_failed(route_id: str, service: str, upstream: str, exc: UpstreamError) -> web.Response:
    """504 for a timeout, 502 for any other upstream failure; logged with the route's fields."""
    fields = {"router": route_id, "service": service, "upstream": upstream}
    status, text = (504, "Gateway Timeout") if exc.kind == "timeout" else (502, "Bad Gateway")
    log.warning(
        "%d for route %s (%s) upstream %s: %s", status, route_id, service, upstream, exc, extra=fields
    )
    return error(status, text)


def abort_client(request: BaseRequest) -> None:
    """Cut the client connection (a response whose head is gone cannot report a failure otherwise)."""
    transport = request.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()
