"""What `ingressctl routes` shows: routes as plain data (the `ingressctl.routes/v1` JSON schema) and
the `--explain URL` answer. Never key material: certificates are listed by hosts and Secret only.

`ingressctl.routes/v1`::

    {"schema": "ingressctl.routes/v1",
     "routes": [ROUTE, ...],              # in table order
     "default_backend": ROUTE | null,
     "certificates": [{"hosts": [str], "secret": "namespace/name"}],
     "entrypoints": [{"name", "address", "tls": bool, "protocols": [str]}]}  # added by the CLI

    ROUTE = {"id", "entrypoints": [str], "host": str|null, "host_kind": "exact"|"wildcard"|"any",
             "path", "path_type", "priority", "is_default_backend",
             "backend": {"namespace", "service", "port", "scheme", "tls": str|null, "problem": str|null,
                         "problem_detail"},
             "endpoints": {"ready": int, "fallback": int, "addresses": ["host:port"]},
             "tls": "secret"|"acme"|"default"|null,
             "middlewares": [str],                # the chain's labels, in the order the proxy applies them
             "chain": [{"name", "effect", ...parameters}],  # the same chain, described
             "source": {"kind", "namespace", "name"}, "location": {"file", "line", "column"}|null,
             "status": "ok" | BackendProblem value,
             "gateway": {"route": "namespace/name", "rule": int, "match": str, "match_index": int,
                         "parents": [str]} | null}   # routes of HTTPRoutes

`ingressctl.routes.explain/v1`::

    {"schema": "ingressctl.routes.explain/v1",
     "request": {"url", "host", "path", "canonical_path": str|null},
     "outcome": "routed" | "backend-problem" | "no-route" | "rejected",
     "status": 0 (proxied) | 503 | 404 | 400,
     "route": ROUTE|null, "reason": str, "shadowed": [ROUTE],
     "entrypoints": [...]}  # with a route: the entrypoints serving it (as in ingressctl.routes/v1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ingressctl.model import Match, Route, UsageError
from ingressctl.routing import RoutingTable, canonical_path
from ingressctl.routing.chain import chain_descriptions, chain_labels, upstream_path

ROUTES_SCHEMA = "ingressctl.routes/v1"
EXPLAIN_SCHEMA = "ingressctl.routes.explain/v1"


def route_status(route: Route) -> str:
    return route.backend.problem.value if route.backend.problem is not None else "ok"


def route_dict(route: Route) -> dict[str, Any]:
    backend = route.backend
    location = route.location
    return {
        "id": route.id,
        "entrypoints": list(route.entrypoints),
        "host": route.host,
        "host_kind": route.host_kind.value,
        "path": route.path,
        "path_type": route.path_type.value,
        "regex": route.regex.pattern if route.regex is not None else None,
        "priority": route.priority,
        "is_default_backend": route.is_default_backend,
        "backend": {
            "namespace": backend.namespace,
            "service": backend.service,
            "port": backend.port,
            "scheme": backend.scheme,
            "tls": backend.tls.describe() if backend.tls is not None else None,
            "problem": backend.problem.value if backend.problem is not None else None,
            "problem_detail": backend.problem_detail,
        },
        "endpoints": {
            "ready": sum(1 for u in backend.upstreams if not u.fallback),
            "fallback": sum(1 for u in backend.upstreams if u.fallback),
            "addresses": [u.authority for u in backend.upstreams],
        },
        "tls": route.tls.value if route.tls is not None else None,
        "middlewares": chain_labels(route),
        "chain": chain_descriptions(route),
        "source": {"kind": route.source.kind, "namespace": route.source.namespace, "name": route.source.name},
        "location": (
            {"file": location.file, "line": location.line or None, "column": location.column or None}
            if location is not None
            else None
        ),
        "status": route_status(route),
        "gateway": gateway_dict(route),
    }


def gateway_dict(route: Route) -> dict[str, Any] | None:
    """For routes of HTTPRoutes: the rule and match, its conditions and the listeners carrying it."""
    gateway = route.gateway
    if gateway is None:
        return None
    return {
        "route": f"{gateway.route.namespace}/{gateway.route.name}",
        "rule": gateway.rule,
        "match": gateway.describe(),
        "match_index": gateway.match,
        "parents": list(gateway.parents),
    }


def routes_document(table: RoutingTable) -> dict[str, Any]:
    return {
        "schema": ROUTES_SCHEMA,
        "routes": [route_dict(route) for route in table.routes],
        "default_backend": route_dict(table.default_route) if table.default_route is not None else None,
        "certificates": [
            {"hosts": list(cert.hosts), "secret": f"{cert.secret.namespace}/{cert.secret.name}"}
            for cert in table.certificates
        ],
    }


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    host: str
    path: str  # as sent (raw, still percent-encoded)
    canonical: str | None  # None: the proxy rejects the path with 400
    query: str = ""


def parse_request(url: str) -> Request:
    """`http://host[:port]/path?query` or `host/path`; raises UsageError when there is no host."""
    text = url.strip()
    split = urlsplit(text if "://" in text else f"http://{text}")
    if split.scheme not in ("http", "https") or not split.hostname:
        raise UsageError(
            f"--explain {url!r}: expected a URL like http://HOST/PATH (or HOST/PATH), with an http(s) scheme"
        )
    raw_path = split.path or "/"
    return Request(
        url=text,
        host=split.netloc.rpartition("@")[2],
        path=raw_path,
        canonical=canonical_path(raw_path),
        query=split.query,
    )


@dataclass(frozen=True, slots=True)
class Explanation:
    request: Request
    match: Match | None

    @property
    def outcome(self) -> str:
        if self.request.canonical is None:
            return "rejected"
        if self.match is None:
            return "no-route"
        return "backend-problem" if self.match.route.backend.problem is not None else "routed"

    @property
    def status(self) -> int:
        """The status the proxy itself answers with, or 0 when the request is proxied."""
        return {"rejected": 400, "no-route": 404, "backend-problem": 503}.get(self.outcome, 0)

    @property
    def reason(self) -> str:
        if self.request.canonical is None:
            return (
                f"the path {self.request.path} has an ambiguous encoding (%2F, %5C, %00 or an encoded dot); "
                "the proxy answers 400"
            )
        if self.match is None:
            return f"no route matches host {self.request.host} and path {self.request.canonical}; 404"
        return self.match.reason


def explain(
    table: RoutingTable, url: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> Explanation:
    """`method` and `headers`: what HTTPRoute matches on besides host, path and query (-X, -H)."""
    request = parse_request(url)
    match = (
        table.explain(request.host, request.canonical, method, headers, request.query)
        if request.canonical is not None
        else None
    )
    return Explanation(request, match)


def explanation_document(explanation: Explanation) -> dict[str, Any]:
    request = explanation.request
    match = explanation.match
    return {
        "schema": EXPLAIN_SCHEMA,
        "request": {
            "url": request.url,
            "host": request.host,
            "path": request.path,
            "canonical_path": request.canonical,
        },
        "outcome": explanation.outcome,
        "status": explanation.status,
        "route": route_dict(match.route) if match is not None else None,
        # The path the backend gets once the chain's strip-prefix and path rewrites ran.
        "upstream_path": (
            upstream_path(match.route, request.canonical)
            if match is not None and request.canonical is not None
            else None
        ),
        "reason": explanation.reason,
        "shadowed": [route_dict(route) for route in match.shadowed] if match is not None else [],
    }
