"""The API entrypoint: dashboard page, JSON API, probes and Prometheus metrics.

Routes:
  /, /dashboard/            the dashboard (static HTML + JS + CSS shipped in the package)
  /api/overview             counts, readiness, last reload, providers
  /api/routers[/{id}]       routers with status and the diagnostics attached to them
  /api/services             services with their endpoints, weights and live health (api/health.py)
  /api/certificates         certificates with issuer, SANs and days left; ACME orders held back
  /api/diagnostics          every finding of the last compile
  /api/entrypoints          entrypoints with open connections
  /api/upstreams            upstream addresses the proxy failed to reach, with the last failure
  /api/traffic              requests, 5xx answers and mean duration per router since start
  /api/rawdata              all of the above in one document (for scripts and bug reports)
  /ping                     liveness: 200 "OK" while the process serves requests
  /ready                    readiness: 503 until the first configuration is applied
  /metrics                  Prometheus text format 0.0.4, OpenMetrics when asked (Accept), gzip if accepted
With basic auth configured, every path except /ping and /ready requires it (probes send no
credentials). Every JSON document has a "schema" version; routers, services and diagnostics carry
an ETag and answer 304 while the configuration is unchanged (the dashboard polls them every 2 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ingressctl.api import serialize
from ingressctl.api.adapter import runtime_view
from ingressctl.api.auth import BasicAuthGate, auth_middleware
from ingressctl.api.documents import DocumentCache, Documents
from ingressctl.api.exposition import negotiate
from ingressctl.api.exposure import check_api_exposure, split_address
from ingressctl.api.health import HealthOverlay, LiveServices
from ingressctl.api.metrics import Metrics
from ingressctl.api.view import RuntimeView
from ingressctl.model import ConfigError
from ingressctl.model.config import ApiConfig, EntryPointAuth
from ingressctl.server import RuntimeState
from ingressctl.server.listeners import open_listener

log = logging.getLogger("ingressctl.api")

_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads nothing from elsewhere and renders data only as text.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_INLINE_METRICS_SERIES = 200


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("ingressctl.api") / "static"
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), _STATIC_TYPES[suffix])
    return files


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=_dumps({"schema": serialize.SCHEMA, **data}),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _etag_matches(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return any(tag.strip() in (etag, "*", "W/" + etag) for tag in header.split(","))


def _cached(request: web.Request, etag: str, key: str, array: bytes) -> web.Response:
    """`{"schema": 1, key: array}`, or 304 when the client already has this version."""
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request, etag):
        return web.Response(status=304, headers=headers)
    body = b'{"schema":' + str(serialize.SCHEMA).encode() + b',"' + key.encode() + b'":' + array + b"}"
    return web.Response(body=body, content_type="application/json", headers=headers)


@web.middleware
async def _headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404 and request.path.startswith("/api/"):
            response = _json({"error": f"no such API endpoint: {request.path}"}, status=404)
        else:
            response = exc
            for key, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            raise
    except Exception:
        log.exception("API handler failed", extra={"path": request.path})
        response = _json({"error": "internal error; see the server log"}, status=500)
    for key, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


class _Handlers:
    def __init__(self, view: RuntimeView, metrics: Metrics, clock: Callable[[], float]) -> None:
        self.view = view
        self.metrics = metrics
        self.clock = clock
        self.static = _load_static()
        self.documents = DocumentCache(view)
        self.health = HealthOverlay()

    def _file(self, name: str) -> web.Response:
        body, content_type = self.static[name]
        return web.Response(body=body, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})

    async def index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.static:
            raise web.HTTPNotFound()
        return self._file(name)

    async def dashboard_redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/dashboard/")

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def ready(self, request: web.Request) -> web.Response:
        if self.view.ready():
            return web.Response(text="OK")
        return web.Response(status=503, text="not ready: no configuration applied yet")

    async def metrics_text(self, request: web.Request) -> web.Response:
        exposition = negotiate(request.headers.get("Accept", ""), request.headers.get("Accept-Encoding", ""))
        render = self.metrics.render_openmetrics if exposition.openmetrics else self.metrics.render

        def body() -> bytes:
            return exposition.encode(render())

        # Thousands of series take tens of milliseconds to write: not on the loop the proxy runs on.
        if self.metrics.series > _INLINE_METRICS_SERIES:
            data = await asyncio.to_thread(body)
        else:
            data = body()
        return web.Response(body=data, headers=exposition.headers())

    def _entrypoints(self) -> list[dict[str, Any]]:
        return [
            serialize.entrypoint_json(ep, self.metrics.open_connections(ep.name))
            for ep in self.view.entrypoints()
        ]

    def _services(self, docs: Documents) -> LiveServices:
        """The services document with the proxy's live view of its endpoints laid over it."""
        return self.health.apply(
            docs, self.view.failing_endpoints(), self.metrics.upstream_failures, self.clock()
        )

    def _overview(self, docs: Documents, certificates: list[dict[str, Any]]) -> dict[str, Any]:
        return serialize.overview_json(
            self.view,
            self.clock(),
            docs.router_counts,
            self._services(docs).counts,
            docs.diagnostic_counts,
            certificates,
        )

    def _certificates(self) -> list[dict[str, Any]]:
        return serialize.certificates_json(self.view, self.clock())

    async def overview(self, request: web.Request) -> web.Response:
        docs = await self.documents.get()
        return _json(self._overview(docs, self._certificates()))

    async def routers(self, request: web.Request) -> web.Response:
        docs = await self.documents.get()
        return _cached(request, docs.etag, "routers", docs.routers_json)

    async def router(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        router = (await self.documents.get()).routers.get(wanted)
        if router is None:
            return _json({"error": f"no router with id {wanted!r}"}, status=404)
        return _json({"router": router})

    async def services(self, request: web.Request) -> web.Response:
        services = self._services(await self.documents.get())
        return _cached(request, services.etag, "services", services.body)

    async def diagnostics(self, request: web.Request) -> web.Response:
        docs = await self.documents.get()
        return _cached(request, docs.etag, "diagnostics", docs.diagnostics_json)

    async def certificates(self, request: web.Request) -> web.Response:
        held = [
            {"names": list(h.names), "next_attempt": serialize.iso(h.retry_at), "reason": h.reason}
            for h in self.metrics.acme_holds()
        ]
        return _json({"certificates": self._certificates(), "acme_held": held})

    def _upstreams(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            serialize.upstream_failures_json(address, f.count, f.last, f.kind, now)
            for address, f in sorted(self.metrics.upstream_failures().items())
        ]

    def _traffic(self) -> list[dict[str, Any]]:
        return [
            {
                "router": router,
                "requests": t.requests,
                "server_errors": t.server_errors,
                "mean_ms": round(t.mean_seconds * 1000, 3),
            }
            for router, t in sorted(self.metrics.router_traffic().items())
        ]

    async def traffic(self, request: web.Request) -> web.Response:
        return _json({"traffic": self._traffic()})

    async def upstreams(self, request: web.Request) -> web.Response:
        return _json({"upstreams": self._upstreams()})

    async def entrypoints(self, request: web.Request) -> web.Response:
        return _json({"entrypoints": self._entrypoints()})

    async def rawdata(self, request: web.Request) -> web.Response:
        """Everything in one document, like Traefik's /api/rawdata (for scripts and support requests)."""
        docs = await self.documents.get()
        certificates = self._certificates()
        parts = [
            b'{"schema":' + str(serialize.SCHEMA).encode(),
            b',"overview":' + _dumps(self._overview(docs, certificates)),
            b',"routers":' + docs.routers_json,
            b',"services":' + self._services(docs).body,
            b',"certificates":' + _dumps(certificates),
            b',"entrypoints":' + _dumps(self._entrypoints()),
            b',"diagnostics":' + docs.diagnostics_json,
            b',"upstreams":' + _dumps(self._upstreams()),
            b',"traffic":' + _dumps(self._traffic()),
            b"}",
        ]
        return web.Response(
            body=b"".join(parts), content_type="application/json", headers={"Cache-Control": "no-store"}
        )


def build_api_app(
    view: RuntimeView,
    metrics: Metrics,
    *,
    auth: EntryPointAuth | None,
    insecure: bool,
    dashboard: bool = True,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The aiohttp application of the API entrypoint.

    `insecure` only matters to check_api_exposure (called by start_api before binding);
    here it is accepted so that callers state their intent in one place.
    """
    _ = insecure
    if metrics.view is None:
        metrics.view = view
    middlewares: list[Middleware] = [_headers_middleware]
    if auth is not None and auth.users:
        middlewares.append(auth_middleware(BasicAuthGate(auth)))
    app = web.Application(middlewares=middlewares)
    h = _Handlers(view, metrics, clock)
    app.router.add_get("/ping", h.ping)
    app.router.add_get("/ready", h.ready)
    app.router.add_get("/metrics", h.metrics_text)
    if dashboard:
        app.router.add_get("/", h.index)
        app.router.add_get("/dashboard", h.dashboard_redirect)
        app.router.add_get("/dashboard/", h.index)
        app.router.add_get("/static/{name}", h.static_file)
    app.router.add_get("/api/overview", h.overview)
    app.router.add_get("/api/routers", h.routers)
    app.router.add_get("/api/routers/{id:.+}", h.router)
    app.router.add_get("/api/services", h.services)
    app.router.add_get("/api/certificates", h.certificates)
    app.router.add_get("/api/diagnostics", h.diagnostics)
    app.router.add_get("/api/entrypoints", h.entrypoints)
    app.router.add_get("/api/upstreams", h.upstreams)
    app.router.add_get("/api/traffic", h.traffic)
    app.router.add_get("/api/rawdata", h.rawdata)
    return app


async def start_api(view: RuntimeView | RuntimeState, metrics: Metrics, config: ApiConfig) -> web.AppRunner:
    """Check exposure, build the app and listen on config.address. The caller owns runner.cleanup().

    Port 0 picks a free port; runner.addresses tells which (and the log line says it).
    """
    view = runtime_view(view)
    check_api_exposure(config.address, config.auth, config.insecure)
    split_address(config.address)  # a malformed address is a ConfigError saying how to write it
    app = build_api_app(view, metrics, auth=config.auth, insecure=config.insecure, dashboard=config.dashboard)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        # ":PORT" listens on IPv6 and IPv4, "0.0.0.0:PORT" on IPv4 only: as the entrypoints.
        site = web.SockSite(runner, open_listener(config.address))
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on the API address {config.address!r}: {exc.strerror}") from exc
    host_bound, port_bound = runner.addresses[0][:2]
    url = f"http://{'[' + host_bound + ']' if ':' in host_bound else host_bound}:{port_bound}/"
    log.info("API and dashboard on %s", url, extra={"address": config.address})
    return runner
