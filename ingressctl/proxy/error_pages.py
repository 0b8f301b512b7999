"""Error pages: an upstream answer whose status is listed (Traefik error-pages, ingress-nginx
custom-http-errors) is replaced by a page asked of another Service; the client still gets the original
status. If the page cannot be had, the client gets the proxy's own plain answer with that status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import quote

from aiohttp import web
from aiohttp.web_request import BaseRequest

from ingressctl.model import Route
from ingressctl.model.backend_policy import ErrorPages
from ingressctl.model.upstream_protocol import HTTP2_SCHEMES
from ingressctl.proxy.answers import error
from ingressctl.proxy.balancer import SmoothWeightedRoundRobin
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.pool import NegotiatedH2, UpstreamPool
from ingressctl.proxy.upstream import UpstreamError

log = logging.getLogger("ingressctl.proxy")

MAX_PAGE_BYTES = 1024 * 1024
_KEPT = frozenset({"content-type", "content-language", "cache-control"})


class ErrorPage:
    """One error-pages entry, with the balancer of its Service (built once with the plan)."""

    __slots__ = ("balancer", "page", "scheme", "tls")

    def __init__(self, page: ErrorPages) -> None:
        self.page = page
        assert page.backend is not None  # the compiler keeps only resolved pages
        self.balancer = SmoothWeightedRoundRobin(page.backend.upstreams)
        self.scheme = page.backend.scheme
        self.tls = page.backend.tls

    def covers(self, status: int) -> bool:
        return self.page.covers(status)

    def head(self, request: BaseRequest, route: Route, status: int, target: str, host: str) -> bytes:
        page = self.page
        path = page.query.replace("{status}", str(status)).replace("{url}", quote(target, safe=""))
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: " + request.headers.get("Accept", "*/*")]
        if page.nginx_headers:
            # What ingress-nginx sends its default backend (the custom-error-pages contract).
            lines += [
                f"X-Code: {status}",
                "X-Format: " + request.headers.get("Accept", "text/html"),
                f"X-Original-URI: {target}",
                f"X-Namespace: {route.source.namespace}",
                f"X-Ingress-Name: {route.source.name}",
                f"X-Service-Name: {route.backend.service}",
                f"X-Service-Port: {route.backend.port}",
            ]
            request_id = request.headers.get("X-Request-ID")
            if request_id is not None:
                lines.append(f"X-Request-ID: {request_id}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    async def answer(
        self,
        pool: UpstreamPool,
        request: BaseRequest,
        route: Route,
        status: int,
        target: str,
        host: str,
        timeout: float,
    ) -> web.Response:
        """The page with the original `status`, or the proxy's plain answer when it cannot be had."""
        peer = self.balancer.pick(pool.is_ejected)
        if peer is None:
            peer = self.balancer.pick_any(None, pool.eject_remaining)
        if peer is not None and self.scheme not in HTTP2_SCHEMES:
            try:
                conn, _ = await pool.acquire(peer.key, self.scheme, self.tls)
            except NegotiatedH2:
                log.warning(
                    "route %s: error page from %s: HTTP/2 error services are not supported",
                    route.id,
                    peer.label,
                )
            except UpstreamError as exc:
                pool.record_failure(peer.key)
                log.warning("route %s: error page from %s failed: %s", route.id, peer.label, exc)
            else:
                try:
                    conn.start_request(self.head(request, route, status, target, host), False)
                    head = await conn.read_head(timeout)
                    chunks: list[bytes] = []
                    size = 0
                    while data := await conn.read_body(timeout):
                        size += len(data)
                        if size > MAX_PAGE_BYTES:
                            raise UpstreamError("protocol", f"error page over {MAX_PAGE_BYTES} bytes")
                        chunks.append(bytes(data))
                except UpstreamError as exc:
                    conn.abort()
                    log.warning("route %s: error page from %s failed: %s", route.id, peer.label, exc)
                else:
                    pool.release(conn)
                    headers = [(k, v) for k, v in head.headers if k.lower() in _KEPT]
                    return BareResponse(status=status, headers=headers, body=b"".join(chunks))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        return error(status, reason)
