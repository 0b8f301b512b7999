"""forward-auth (Traefik auth-type forward + auth-url, ingress-nginx auth-url): ask an HTTP service
whether the request may pass. 2xx lets it through, with the named headers of the answer copied
onto the request (removed when the answer lacks them: a client must not supply them itself).
Traefik's semantics return any other answer to the client as it is; ingress-nginx's return 401
(or redirect to auth-signin) and 403, and 500 for anything else. No answer — the service down,
refusing, or slower than the timeout — is a 503: never open.

One aiohttp client session per event loop serves every route (connections are reused); the
proxy closes it on shutdown (close_auth_sessions).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import aiohttp
from aiohttp.web_response import StreamResponse
from multidict import CIMultiDict, CIMultiDictProxy

from ingressctl.model.access import AuthStyle
from ingressctl.proxy.answers import error
from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.client import client_address
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.headers import HOP_BY_HOP_NAMES, host_port
from ingressctl.proxy.upstream.tls import client_context
from ingressctl.routing.chain_access import ForwardAuthSpec

log = logging.getLogger("ingressctl.proxy")

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0  # for the whole auth exchange, answer body included
MAX_ANSWER_BYTES: Final = 1 << 20  # an auth answer returned to the client is read whole, up to this

_NOT_COPIED: Final = HOP_BY_HOP_NAMES | {"host", "content-length", "expect"}
_ANSWER_DROP: Final = HOP_BY_HOP_NAMES | {"content-length"}
_FORWARDED_PREFIX: Final = "x-forwarded-"
_VARIABLE: Final = re.compile(r"\$(?:\{(\w+)\}|(\w+))")

_sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        for other in [lp for lp in _sessions if lp.is_closed()]:
            del _sessions[other]
        session = _sessions[loop] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, limit_per_host=128),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )
    return session


async def close_auth_sessions() -> None:
    """Close this event loop's auth client session (the proxy's shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def expand(template: str, exchange: Exchange, scheme: str) -> str:
    """An auth-url or auth-signin with ingress-nginx's variables ($host, $escaped_request_uri, ...)
    filled in (the compiler accepted only those in model.access.NGINX_URL_VARIABLES)."""
    if "$" not in template:
        return template
    request_uri = exchange.target
    args = request_uri.partition("?")[2]
    host_name = exchange.host.partition(":")[0] if not exchange.host.startswith("[") else exchange.host
    values = {
        "host": host_name.lower(),
        "http_host": exchange.host,
        "best_http_host": exchange.host,
        "scheme": scheme,
        "pass_access_scheme": scheme,
        "request_uri": request_uri,
        "escaped_request_uri": quote(request_uri, safe="/"),
        "uri": exchange.path,
        "args": args,
        "remote_addr": exchange.request.remote or "",
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), template)


class ForwardAuthenticator:
    __slots__ = ("auth", "ssl")

    name = ForwardAuthSpec.name

    def __init__(self, spec: ForwardAuthSpec) -> None:
        self.auth = spec.auth
        # auth-tls-secret / auth-tls-insecure: built once per route when the plan is built.
        tls = spec.auth.tls
        self.ssl: ssl.SSLContext | bool = client_context(tls, ["http/1.1"]) if tls is not None else True

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        auth = self.auth
        info = exchange.entrypoints.get(exchange.ep.name)
        scheme = info.scheme if info is not None else "http"
        url = expand(auth.url, exchange, scheme) if auth.style is AuthStyle.NGINX else auth.url
        headers = self._auth_request_headers(exchange, scheme)
        try:
            async with _session().request(
                auth.method,
                url,
                headers=headers,
                allow_redirects=False,
                ssl=self.ssl,
                timeout=aiohttp.ClientTimeout(total=TOTAL_TIMEOUT, connect=CONNECT_TIMEOUT),
            ) as answer:
                status = answer.status
                # Read whole (bounded) whatever the answer: a connection left mid-body is not reused.
                body = await _read_bounded(answer.content)
                if body is None:
                    log.warning(
                        "route %s: forward auth answer larger than %d bytes",
                        exchange.route_id,
                        MAX_ANSWER_BYTES,
                    )
                    return error(503, "Service Unavailable: the authentication service's answer is too large")
                if 200 <= status < 300:
                    self._copy_granted(exchange, answer.headers)
                    return None
                if auth.style is AuthStyle.NGINX:
                    return self._nginx_refusal(exchange, answer.status, answer.headers, scheme)
                out = CIMultiDict((k, v) for k, v in answer.headers.items() if k.lower() not in _ANSWER_DROP)
                return BareResponse(status=status, reason=answer.reason, headers=out, body=body)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.warning(
                "503 for route %s: forward auth %s failed: %s",
                exchange.route_id,
                auth.url,
                exc or type(exc).__name__,
                extra={"router": exchange.route_id},
            )
            return error(503, "Service Unavailable: the authentication service did not answer")

    def _auth_request_headers(self, exchange: Exchange, scheme: str) -> CIMultiDict[str]:
        auth = self.auth
        request = exchange.request
        trust = auth.trust_forward_headers
        out: CIMultiDict[str] = CIMultiDict()
        for name, value in request.headers.items():
            lname = name.lower()
            if lname in _NOT_COPIED or (not trust and lname.startswith(_FORWARDED_PREFIX)):
                continue
            out.add(name, value)
        peer = request.remote or ""
        incoming = request.headers
        if auth.style is AuthStyle.TRAEFIK:
            xff = incoming.get("X-Forwarded-For") if trust else None
            out["X-Forwarded-For"] = f"{xff}, {peer}" if xff else peer
            out["X-Forwarded-Method"] = request.method
            if not trust or "X-Forwarded-Proto" not in incoming:
                out["X-Forwarded-Proto"] = scheme
            if not trust or "X-Forwarded-Host" not in incoming:
                out["X-Forwarded-Host"] = exchange.host
            if not trust or "X-Forwarded-Uri" not in incoming:
                out["X-Forwarded-Uri"] = exchange.target
            if not trust or "X-Forwarded-Port" not in incoming:
                out["X-Forwarded-Port"] = str(host_port(exchange.host, 443 if scheme == "https" else 80))
            return out
        client = client_address(request, exchange.ep.trusted)
        out["X-Original-URI"] = exchange.target
        out["X-Original-Method"] = request.method
        out["X-Original-URL"] = f"{scheme}://{exchange.host}{exchange.target}"
        out["X-Scheme"] = scheme
        out["X-Sent-From"] = "nginx-ingress-controller"
        out["X-Real-IP"] = client
        out["X-Forwarded-For"] = client
        out["X-Forwarded-Proto"] = scheme
        out["X-Forwarded-Host"] = exchange.host
        out["X-Auth-Request-Redirect"] = (
            expand(auth.request_redirect, exchange, scheme) if auth.request_redirect else exchange.target
        )
        return out

    def _copy_granted(self, exchange: Exchange, answer: CIMultiDictProxy[str]) -> None:
        for name in self.auth.response_headers:
            values = answer.getall(name, ())
            if values:
                exchange.set_upstream_header(name, ", ".join(values))
            else:
                exchange.remove_upstream_header(name)

    def _nginx_refusal(
        self, exchange: Exchange, status: int, answer: Mapping[str, str], scheme: str
    ) -> StreamResponse:
        auth = self.auth
        if status == 401:
            if auth.signin:
                location = self._signin_location(exchange, scheme)
                return BareResponse(
                    status=302, text=f"Redirecting to {location}\n", headers={"Location": location}
                )
            challenge = answer.get("WWW-Authenticate")
            return error(401, "Unauthorized", {"WWW-Authenticate": challenge} if challenge else None)
        if status == 403:
            return error(403, "Forbidden")
        log.warning(
            "500 for route %s: forward auth %s answered %d (ingress-nginx semantics: only 2xx, 401, 403)",
            exchange.route_id,
            auth.url,
            status,
        )
        return error(500, "Internal Server Error")

    def _signin_location(self, exchange: Exchange, scheme: str) -> str:
        auth = self.auth
        location = expand(auth.signin, exchange, scheme)
        _, _, query = location.partition("?")
        if any(part.partition("=")[0] == auth.signin_param for part in query.split("&")):
            return location
        # As ingress-nginx writes it: rd=$pass_access_scheme://$http_host$escaped_request_uri.
        original = f"{scheme}://{exchange.host}{quote(exchange.target, safe='/')}"
        sep = "&" if "?" in location else "?"
        return f"{location}{sep}{auth.signin_param}={original}"


async def _read_bounded(content: aiohttp.StreamReader) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
