"""The JSON documents of the API, built from a RuntimeView.

Everything a response may contain passes through here, and only named, non-secret fields are
copied out of the model: credentials (htpasswd hashes, TLS keys, tokens) are never read at all,
so no later change to the model can leak them through the API by accident.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingressctl import __version__
from ingressctl.api.view import CertificateInfo, RouteTable, RuntimeView
from ingressctl.checks.routes_view import gateway_dict
from ingressctl.logging_setup import REDACTED, is_sensitive_field, redact
from ingressctl.model import Diagnostic, Location, ObjectRef, PathType, Route, Severity
from ingressctl.model.config import EntryPoint
from ingressctl.model.http2 import Http2Settings
from ingressctl.providers.base import ProviderStatus
from ingressctl.routing.chain import chain_descriptions
from ingressctl.routing.chain_entrypoint import entrypoint_chain

SCHEMA = 1
# A certificate this close to expiry is shown as a warning (ACME renews at 30 days).
EXPIRY_WARNING_DAYS = 14

Json = dict[str, Any]


def _location(loc: Location | None) -> str | None:
    return str(loc) if loc is not None else None


def _ref(ref: ObjectRef | None) -> Json | None:
    if ref is None:
        return None
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def diagnostic_json(diag: Diagnostic) -> Json:
    return {
        "code": diag.code,
        "severity": diag.severity.value,
        # Messages may quote input (an htpasswd line, a kubeconfig): scrub them like log lines.
        "message": redact(diag.message),
        "hint": redact(diag.hint),
        "location": _location(diag.location),
        "object": _ref(diag.object),
        "related": [str(r) for r in diag.related],
    }


def rule_text(route: Route) -> str:
    """The route as a Traefik-style rule, for people who know Traefik's dashboard."""
    parts: list[str] = []
    if route.host is not None:
        parts.append(f"Host(`{route.host}`)")
    if route.is_default_backend:
        parts.append("DefaultBackend()")
    elif route.path_type is PathType.EXACT:
        parts.append(f"Path(`{route.path}`)")
    elif route.path_type is PathType.PREFIX:
        parts.append(f"PathPrefix(`{route.path or '/'}`)")
    elif route.gateway is not None:
        parts.append(f"PathRegexp(`^(?:{route.path})$`)")
    else:
        parts.append(f"PathPrefixString(`{route.path or '/'}`)")
    gateway = route.gateway
    if gateway is not None:
        # HTTPRoute conditions, in the words of Traefik's rules.
        if gateway.method:
            parts.append(f"Method(`{gateway.method}`)")
        for h in gateway.headers:
            kind = "Header" if h.type.value == "Exact" else "HeaderRegexp"
            parts.append(f"{kind}(`{h.name}`, `{h.value}`)")
        for q in gateway.query_params:
            kind = "Query" if q.type.value == "Exact" else "QueryRegexp"
            parts.append(f"{kind}(`{q.name}`, `{q.value}`)")
    return " && ".join(parts)


@dataclass(frozen=True, slots=True)
class _DiagnosticIndex:
    """Diagnostics grouped by the object they are about, to attach them to routers and services."""

    by_object: Mapping[ObjectRef, tuple[Diagnostic, ...]]

    @classmethod
    def build(cls, diagnostics: Iterable[Diagnostic]) -> _DiagnosticIndex:
        grouped: dict[ObjectRef, list[Diagnostic]] = {}
        for diag in diagnostics:
            if diag.object is not None:
                grouped.setdefault(diag.object, []).append(diag)
        return cls({k: tuple(v) for k, v in grouped.items()})

    def for_route(self, route: Route) -> tuple[Diagnostic, ...]:
        service = ObjectRef("Service", route.backend.namespace, route.backend.service)
        return self.by_object.get(route.source, ()) + self.by_object.get(service, ())


def _status(route: Route, diagnostics: Sequence[Diagnostic]) -> str:
    """Traefik's router states: enabled, warning (serving, with findings), error (cannot serve: 503)."""
    if route.backend.problem is not None or any(d.severity is Severity.ERROR for d in diagnostics):
        return "error"
    if any(d.severity is Severity.WARNING for d in diagnostics) or all(
        u.fallback for u in route.backend.upstreams
    ):
        return "warning"
    return "enabled"


def _middlewares(route: Route) -> list[Json]:
    mw = route.middlewares
    out: list[Json] = []
    if mw.redirect is not None:
        out.append(
            {"type": "redirect", "entrypoint": mw.redirect.entrypoint, "permanent": mw.redirect.permanent}
        )
    if mw.basic_auth is not None:
        # Names of users are fine to show; their hashes never leave the process.
        out.append(
            {
                "type": "basic-auth",
                "realm": mw.basic_auth.realm,
                "users": len(mw.basic_auth.users),
                "source": mw.basic_auth.source,
            }
        )
    if mw.allow_source_ranges:
        out.append({"type": "ip-allow-list", "source_ranges": list(mw.allow_source_ranges)})
    if route.strip_prefix:
        out.append({"type": "strip-prefix", "prefix": route.path})
    return out


def service_name(route: Route) -> str:
    return route.backend.label


def router_json(route: Route, index: _DiagnosticIndex) -> Json:
    diagnostics = index.for_route(route)
    backend = route.backend
    return {
        "id": route.id,
        "rule": rule_text(route),
        "host": route.host,
        "host_kind": route.host_kind.value,
        "path": route.path,
        "path_type": route.path_type.value,
        "regex": route.regex.pattern if route.regex is not None else None,
        "default_backend": route.is_default_backend,
        "priority": route.priority,
        "entrypoints": list(route.entrypoints),
        "service": service_name(route),
        "middlewares": [m["type"] for m in _middlewares(route)],
        "middleware_details": _middlewares(route),
        # The chain the proxy runs, in its order (ingressctl.routing.chain, the proxy's own specs).
        "chain": chain_descriptions(route),
        "tls": route.tls.value if route.tls is not None else None,
        "tls_only": route.tls_only,
        "cert_resolver": route.cert_resolver or None,
        "status": _status(route, diagnostics),
        "problem": backend.problem.value if backend.problem is not None else None,
        "problem_detail": redact(backend.problem_detail),
        "source": _ref(route.source),
        "location": _location(route.location),
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
        # Routes of HTTPRoutes: the rule, its match conditions and the listeners carrying it.
        "gateway": gateway_dict(route),
    }


def all_routes(table: RouteTable | None) -> list[Route]:
    """The table's routes, then its default route (the catch-all) when it is not one of them."""
    if table is None:
        return []
    routes = list(table.routes)
    default = table.default_route
    if default is not None and all(r.id != default.id for r in routes):
        routes.append(default)
    return routes


def routers_json(routes: Sequence[Route], diagnostics: Sequence[Diagnostic]) -> list[Json]:
    index = _DiagnosticIndex.build(diagnostics)
    return [router_json(r, index) for r in routes]


def _upstream_health(route: Route) -> str:
    if route.backend.problem is not None:
        return "down"
    return "degraded" if all(u.fallback for u in route.backend.upstreams) else "up"


def services_json(routes: Sequence[Route]) -> list[Json]:
    """One entry per (namespace, service, port) any router uses, with its endpoints."""
    services: dict[str, Json] = {}
    for route in routes:
        name = service_name(route)
        entry = services.get(name)
        if entry is None:
            backend = route.backend
            total = sum(u.weight for u in backend.upstreams) or 1
            entry = {
                "name": name,
                "namespace": backend.namespace,
                "service": backend.service,
                "port": backend.port,
                "scheme": backend.scheme,
                "tls": backend.tls.describe() if backend.tls is not None else None,
                "status": _upstream_health(route),
                "problem": backend.problem.value if backend.problem is not None else None,
                "problem_detail": redact(backend.problem_detail),
                # service-weights: the Services whose endpoints are merged here, with their percent
                "split": [{"service": name, "percent": percent} for name, percent in backend.split],
                "failing_endpoints": 0,
                "endpoints": [
                    {
                        "address": u.authority,
                        "weight": u.weight,
                        "share": round(u.weight / total, 4),
                        "fallback": u.fallback,
                        # serving+terminating endpoints used only because none is ready
                        "health": "fallback" if u.fallback else "ready",
                        # What the proxy saw (ingressctl.api.health fills these in while it fails).
                        "state": "healthy",
                        "consecutive_failures": 0,
                        "ejected_until": None,
                        "last_error": None,
                    }
                    for u in backend.upstreams
                ],
                "routers": [],
            }
            services[name] = entry
        entry["routers"].append(route.id)
    return sorted(services.values(), key=lambda s: s["name"])


def certificate_json(cert: CertificateInfo, now: float) -> Json:
    seconds_left = cert.not_after - now
    problems = list(cert.problems)
    if seconds_left <= 0 and "expired" not in problems:
        problems.append("expired")
    if problems:
        status = "error"
    elif seconds_left < EXPIRY_WARNING_DAYS * 86400:
        status = "warning"
    else:
        status = "ok"
    return {
        "main": cert.names[0] if cert.names else "",
        "names": list(cert.names),
        "sans": list(cert.names[1:]),
        "issuer": cert.issuer,
        "not_before": iso(cert.not_before) if cert.not_before is not None else None,
        "not_after": iso(cert.not_after),
        "days_left": int(seconds_left // 86400),
        "source": cert.source.value,
        "origin": cert.origin,
        "serial": cert.serial,
        "problems": problems,
        "status": status,
    }


def certificates_json(view: RuntimeView, now: float) -> list[Json]:
    return [certificate_json(c, now) for c in sorted(view.certificates(), key=lambda c: c.not_after)]


def entrypoint_json(ep: EntryPoint, open_connections: int) -> Json:
    return {
        "name": ep.name,
        "address": ep.address,
        "tls": ep.tls is not None,
        "tls_min_version": ep.tls.min_version if ep.tls is not None else None,
        # What clients can speak to it: ALPN on TLS ("h2", "http/1.1"), h2c with prior knowledge.
        "protocols": list(ep.http2.protocols(ep.tls is not None)),
        "http2": http2_json(ep.http2) if "h2" in ep.http2.protocols(ep.tls is not None) else None,
        "redirect": ep.redirect.entrypoint if ep.redirect is not None else None,
        "auth": ({"realm": ep.auth.realm, "users": len(ep.auth.users)} if ep.auth is not None else None),
        "trusted_ips": list(ep.trusted_ips),
        # Runs outermost in every route's chain on this entrypoint (proxy/middlewares/compress.py).
        "compress": ep.compress,
        "chain": [spec.describe() for spec in entrypoint_chain(ep)],
        "open_connections": open_connections,
    }


def http2_json(settings: Http2Settings) -> Json:
    return {
        "max_concurrent_streams": settings.max_concurrent_streams,
        "max_header_list_size": settings.max_header_list_size,
        "header_table_size": settings.header_table_size,
        "initial_stream_window": settings.initial_stream_window,
        "initial_connection_window": settings.initial_connection_window,
        "max_resets_per_second": settings.max_resets_per_second,
        "max_control_frames_per_second": settings.max_control_frames_per_second,
    }


def upstream_failures_json(address: str, count: int, last: float, kind: str, now: float) -> Json:
    return {
        "address": address,
        "failures": count,
        "last_failure": iso(last),
        "last_failure_kind": kind,
        "seconds_since": max(0, int(now - last)),
    }


def provider_json(status: ProviderStatus) -> Json:
    return {
        "provider": status.provider,
        "healthy": status.healthy,
        "message": redact(status.message),
        "last_sync": iso(status.last_sync) if status.last_sync is not None else None,
    }


def _redact_optional(text: str | None) -> str | None:
    return redact(text) if text is not None else None


def scrub(value: Any, key: str = "") -> Any:
    """A JSON-safe copy of `value` without fields named like credentials and with text redacted."""
    if key and is_sensitive_field(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def count_by(items: Iterable[Json], key: str) -> dict[str, int]:
    """{"total": n, value: count, ...} of items[key]: the counts the overview shows."""
    out: dict[str, int] = {"total": 0}
    for item in items:
        out["total"] += 1
        value = str(item[key])
        out[value] = out.get(value, 0) + 1
    return out


def overview_json(
    view: RuntimeView,
    now: float,
    routers: Mapping[str, int],
    services: Mapping[str, int],
    diagnostics: Mapping[str, int],
    certificates: Sequence[Json],
) -> Json:
    reloaded = view.last_reload()
    return {
        "version": __version__,
        "ready": view.ready(),
        "started_at": iso(view.started_at()),
        "uptime_seconds": int(now - view.started_at()),
        "last_reload": iso(reloaded) if reloaded is not None else None,
        "last_error": _redact_optional(view.last_error()),
        "routers": dict(routers),
        "services": dict(services),
        "certificates": count_by(certificates, "status"),
        "diagnostics": dict(diagnostics),
        "providers": [provider_json(p) for p in view.provider_statuses()],
        "entrypoints": [ep.name for ep in view.entrypoints()],
        "config": scrub(view.config_summary()),
    }
