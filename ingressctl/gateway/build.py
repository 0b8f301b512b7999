"""compile_gateway(): the Gateway API objects of a Snapshot → routes, certificates, status, findings.

One Route per (HTTPRoute, rule, match, hostname), served on the entrypoints of the listeners it
attached to; its backend, middlewares and precedence come from ingressctl.gateway's other modules.
Called by routing.compiler when --gateway is on; the routes join the Ingress routes in one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingressctl.gateway import codes
from ingressctl.gateway import reasons as r
from ingressctl.gateway.attach import Attached, Attachment, attach, condition
from ingressctl.gateway.backends import RefProblem, RuleBackend, mirror_upstreams, rule_backend
from ingressctl.gateway.filters import rule_filters
from ingressctl.gateway.index import regex_problem
from ingressctl.gateway.memo import GatewayMemo, RouteResult
from ingressctl.gateway.precedence import gateway_rank
from ingressctl.gateway.status import gateway_status
from ingressctl.model import (
    Diagnostic,
    HostKind,
    Location,
    ObjectRef,
    PathType,
    Route,
    RouteBackend,
    RouteMiddlewares,
    Severity,
    Snapshot,
    TLSCertificate,
    TLSSource,
)
from ingressctl.model.gateway import (
    Condition,
    GatewayStatusReport,
    HTTPRoute,
    HTTPRouteMatch,
    HTTPRouteRule,
    PathMatchType,
)
from ingressctl.model.gateway_routes import GatewayError, GatewayFilters, GatewayMatch, Rank
from ingressctl.routing.backends import BackendResolver
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.paths import prefix_key

if TYPE_CHECKING:
    from ingressctl.routing.table import RoutingTable

_PATH_TYPES = {
    PathMatchType.EXACT: PathType.EXACT,
    PathMatchType.PATH_PREFIX: PathType.PREFIX,
    PathMatchType.REGULAR_EXPRESSION: PathType.IMPLEMENTATION_SPECIFIC,
}


@dataclass(slots=True)
class GatewayCompiled:
    routes: list[Route] = field(default_factory=list)
    certificates: list[TLSCertificate] = field(default_factory=list)
    status: GatewayStatusReport = field(default_factory=GatewayStatusReport)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def finding(
    code: str, severity: Severity, ref: ObjectRef, message: str, hint: str, location: Location | None
) -> Diagnostic:
    return Diagnostic(code, severity, f"{ref}: {message}", location=location, hint=hint, object=ref)


def compile_gateway(
    snapshot: Snapshot,
    options: CompileOptions,
    resolver: BackendResolver,
    previous: RoutingTable | None = None,
    memo: GatewayMemo | None = None,
) -> GatewayCompiled:
    """`previous`: the table of the last compile; a route equal to one of its routes is that very
    object, so the proxy keeps its plan (balancer position, mirror bounds) across reloads. `memo`:
    the per-HTTPRoute results of the last compile (ingressctl.gateway.memo), reused when unchanged."""
    out = GatewayCompiled()
    if memo is not None:
        memo.begin(snapshot, options)
    attached = attach(snapshot, options)
    _not_ours(snapshot, options, attached, out.diagnostics)
    for state in attached.gateways:
        for listener in state.listeners:
            if listener.certificate is not None and listener.ready:
                out.certificates.append(listener.certificate)
            for c in listener.conditions:
                if c.type == r.PROGRAMMED and not c.ok:
                    out.diagnostics.append(
                        finding(
                            codes.LISTENER,
                            Severity.ERROR,
                            state.gateway.ref,
                            f"listener {listener.listener.name} (port {listener.listener.port}) is not "
                            f"served: {c.message}",
                            "Give the listener a port an entrypoint of the right kind listens on, HTTP "
                            "or HTTPS, and a hostname of its own on a shared port.",
                            listener.listener.location or state.gateway.meta.location,
                        )
                    )
    resolved_refs: dict[int, Condition] = {}  # by id() of the HTTPRoute
    for route, results in attached.routes:
        for result in results:
            if not result.accepted.ok:
                out.diagnostics.append(
                    finding(
                        codes.NOT_ATTACHED,
                        Severity.ERROR,
                        route.ref,
                        f"not attached to {result.parent.describe(route.meta.namespace)}: "
                        f"{result.accepted.reason}: {result.accepted.message}",
                        "Check the parentRef's sectionName/port, the listener's allowedRoutes and hostname.",
                        result.parent.location or route.meta.location,
                    )
                )
        attachments = [a for result in results for a in result.attachments]
        problems = _route_once(route, attachments, attached, resolver, out, options, memo)
        generation = route.meta.generation
        if problems:
            resolved_refs[id(route)] = condition(
                r.RESOLVED_REFS, False, problems[0].reason, "; ".join(p.message for p in problems), generation
            )
        else:
            resolved_refs[id(route)] = condition(r.RESOLVED_REFS, True, r.RESOLVED_REFS, "", generation)
    out.routes.sort(key=_rank)
    if previous is not None:
        before = {r.id: r for r in previous.routes if r.gateway is not None}
        out.routes = [_same(route, before.get(route.id)) for route in out.routes]
    _conflicts(out.routes, out.diagnostics)
    out.status = gateway_status(attached, resolved_refs, options.gateway_controller_name)
    if memo is not None:
        memo.commit()
    return out


def _route_once(
    route: HTTPRoute,
    attachments: list[Attachment],
    attached: Attached,
    resolver: BackendResolver,
    out: GatewayCompiled,
    options: CompileOptions,
    memo: GatewayMemo | None,
) -> list[RefProblem]:
    """_route(), or the last compile's result for this very HTTPRoute when nothing it read changed."""
    if memo is None:
        return _route(route, attachments, attached, resolver, out, options.gateway_mirror_body_limit)
    backends = _backends_read(route, resolver)
    found = memo.get(route, backends)
    if found is not None:
        out.routes.extend(found.routes)
        out.diagnostics.extend(found.diagnostics)
        return [p for p in found.problems if isinstance(p, RefProblem)]
    routes_before, diagnostics_before = len(out.routes), len(out.diagnostics)
    problems = _route(route, attachments, attached, resolver, out, options.gateway_mirror_body_limit)
    memo.keep(
        RouteResult(
            route,
            memo.context,
            backends,
            tuple(out.routes[routes_before:]),
            tuple(out.diagnostics[diagnostics_before:]),
            tuple(problems),
        )
    )
    return problems


def _backends_read(route: HTTPRoute, resolver: BackendResolver) -> tuple[object, ...]:
    """The resolved Service of every backendRef and mirror of the route (the same objects while the
    Services and their endpoints are): what its compiled routes depend on besides the context."""
    out: list[object] = []
    namespace = route.meta.namespace
    for rule in route.rules:
        refs = [*rule.backend_refs, *(f.request_mirror.backend_ref for f in rule.filters if f.request_mirror)]
        for ref in refs:
            if ref.is_service and ref.port is not None:
                out.append(resolver.resolve_service(ref.namespace_or(namespace), ref.name, ref.port))
            else:
                out.append(None)
    return tuple(out)


def _same(route: Route, old: Route | None) -> Route:
    return old if old is not None and (old is route or old == route) else route


def _rank(route: Route) -> Rank:
    assert route.gateway is not None
    return route.gateway.rank


def _not_ours(
    snapshot: Snapshot, options: CompileOptions, attached: Attached, found: list[Diagnostic]
) -> None:
    for gateway_class in snapshot.gateway_classes:
        if gateway_class.meta.name not in attached.classes:
            found.append(
                finding(
                    codes.NOT_OURS,
                    Severity.INFO,
                    gateway_class.ref,
                    f"controllerName {gateway_class.controller_name} is not ours "
                    f"({options.gateway_controller_name}"
                    + (f", class {options.gateway_class}" if options.gateway_class else "")
                    + "); its Gateways are left to that controller",
                    f"Set controllerName: {options.gateway_controller_name} for ingressctl to serve it.",
                    gateway_class.meta.location,
                )
            )
    served = {(g.gateway.meta.namespace, g.gateway.meta.name) for g in attached.gateways}
    for gateway in snapshot.gateways:
        if (gateway.meta.namespace, gateway.meta.name) not in served:
            found.append(
                finding(
                    codes.NOT_OURS,
                    Severity.INFO,
                    gateway.ref,
                    f"gatewayClassName {gateway.gateway_class_name} is not a class of ours; not served",
                    "Name a GatewayClass whose controllerName is ingressctl's.",
                    gateway.meta.location,
                )
            )
    ours = {id(route) for route, _ in attached.routes}
    for route in snapshot.http_routes:
        if id(route) not in ours:
            found.append(
                finding(
                    codes.NOT_OURS,
                    Severity.INFO,
                    route.ref,
                    "no parentRef names a Gateway ingressctl serves; not served",
                    "Attach it with parentRefs: [{name: GATEWAY}] to a Gateway of an ingressctl class.",
                    route.meta.location,
                )
            )


@dataclass(slots=True)
class _Serving:
    """Where one hostname of a route is served: the listeners' entrypoints, for people their names."""

    entrypoints: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    https: bool = False


def _route(
    route: HTTPRoute,
    attachments: list[Attachment],
    attached: Attached,
    resolver: BackendResolver,
    out: GatewayCompiled,
    mirror_body_limit: int,
) -> list[RefProblem]:
    """Adds the route's Routes to `out`; returns its unresolved references."""
    namespace = route.meta.namespace
    problems: list[RefProblem] = []
    rule_backends: list[RuleBackend] = []
    for rule in route.rules:
        result = rule_backend(rule.backend_refs, namespace, attached.grants, resolver)
        if not rule.backend_refs and any(f.request_redirect is not None for f in rule.filters):
            # A redirect rule answers by itself: no backend, nothing wrong.
            result = RuleBackend(RouteBackend(namespace, "(redirect)", ""), None, ())
        rule_backends.append(result)
        problems.extend(result.problems)
        for ref in rule.backend_refs:
            if ref.filters:
                problems.append(
                    RefProblem(
                        r.UNSUPPORTED_VALUE, f"backendRef {ref.name}: filters are not supported", ref.location
                    )
                )
    for problem in problems:
        out.diagnostics.append(
            finding(
                codes.REFERENCE,
                Severity.ERROR,
                route.ref,
                f"{problem.reason}: {problem.message}; its share of requests answers 500",
                "Point backendRefs at Services (with a port) that exist; across namespaces add a "
                "ReferenceGrant in the Service's namespace.",
                problem.location or route.meta.location,
            )
        )
    if not attachments:
        return problems
    serving: dict[str | None, _Serving] = {}
    for attachment in attachments:
        listener = attachment.listener
        for hostname in attachment.hostnames:
            where = serving.setdefault(hostname, _Serving())
            if listener.entrypoint and listener.entrypoint not in where.entrypoints:
                where.entrypoints.append(listener.entrypoint)
            where.parents.append(listener.label)
            where.https = where.https or listener.listener.protocol == "HTTPS"
    for ri, rule in enumerate(route.rules):
        backend = rule_backends[ri]
        mirrors_problems: list[RefProblem] = []
        for mi, match in enumerate(rule.matches):
            unusable = regex_problems(match)
            if unusable:
                out.diagnostics.append(
                    finding(
                        codes.INVALID_MATCH,
                        Severity.ERROR,
                        route.ref,
                        f"rules[{ri}].matches[{mi}]: {unusable}; this match is left out",
                        "Write a regular expression without back-references or look-around.",
                        match.location or rule.location,
                    )
                )
                continue
            middlewares = _middlewares(
                route, rule, match, backend, attached, resolver, mirrors_problems, out, mirror_body_limit
            )
            for hostname, where in serving.items():
                out.routes.append(_make(route, ri, mi, rule, match, hostname, where, backend, middlewares))
        problems.extend(p for p in mirrors_problems if p not in problems)
    return problems


def regex_problems(match: HTTPRouteMatch) -> str:
    patterns = [match.path.value] if match.path.type is PathMatchType.REGULAR_EXPRESSION else []
    patterns += [
        h.value for h in (*match.headers, *match.query_params) if h.type.value == "RegularExpression"
    ]
    for pattern in patterns:
        problem = regex_problem(pattern)
        if problem:
            return problem
    return ""


def _middlewares(
    route: HTTPRoute,
    rule: HTTPRouteRule,
    match: HTTPRouteMatch,
    backend: RuleBackend,
    attached: Attached,
    resolver: BackendResolver,
    mirror_problems: list[RefProblem],
    out: GatewayCompiled,
    mirror_body_limit: int,
) -> RouteMiddlewares:
    filters = rule_filters(rule.filters, match)
    error = backend.error
    unsupported = list(filters.unsupported)
    unsupported += [f"filters of backendRef {ref.name}" for ref in rule.backend_refs if ref.filters]
    if unsupported:
        error = GatewayError(500, 1.0, f"not supported: {', '.join(unsupported)}")
        if match is rule.matches[0]:
            out.diagnostics.append(
                finding(
                    codes.UNSUPPORTED,
                    Severity.ERROR,
                    route.ref,
                    f"filter {', '.join(unsupported)} is not supported; the rule answers 500",
                    "Remove the filter, or use one of RequestHeaderModifier, ResponseHeaderModifier, "
                    "RequestRedirect, URLRewrite, RequestMirror.",
                    rule.location or route.meta.location,
                )
            )
    mirrors = []
    for mirror in filters.mirrors:
        upstreams, problem = mirror_upstreams(
            mirror.backend_ref, route.meta.namespace, attached.grants, resolver
        )
        if problem is not None:
            mirror_problems.append(problem)
        mirrors.append((mirror, upstreams))
    prefix = match.path.value if match.path.type is not PathMatchType.REGULAR_EXPRESSION else ""
    extras = (
        GatewayFilters(
            redirect=filters.redirect,
            matched_prefix=prefix_key(prefix) if match.path.type is PathMatchType.PATH_PREFIX else prefix,
            mirrors=tuple(mirrors),
            error=error,
            mirror_body_limit=mirror_body_limit,
        )
        if filters.redirect is not None or mirrors or error is not None
        else None
    )
    return RouteMiddlewares(rewrites=filters.rewrites, gateway=extras)


def _make(
    route: HTTPRoute,
    ri: int,
    mi: int,
    rule: HTTPRouteRule,
    match: HTTPRouteMatch,
    hostname: str | None,
    where: _Serving,
    backend: RuleBackend,
    middlewares: RouteMiddlewares,
) -> Route:
    if hostname is None:
        kind = HostKind.ANY
    elif hostname.startswith("*."):
        kind = HostKind.WILDCARD
    else:
        kind = HostKind.EXACT
    gateway = GatewayMatch(
        route=route.ref,
        rule=ri,
        match=mi,
        parents=tuple(dict.fromkeys(where.parents)),
        path_type=match.path.type,
        path=match.path.value,
        method=match.method,
        headers=match.headers,
        query_params=match.query_params,
        wildcard_suffix=hostname[1:] if kind is HostKind.WILDCARD and hostname else "",
        rank=gateway_rank(hostname, match, route, ri, mi),
    )
    suffix = f"@{hostname}" if hostname else ""
    return Route(
        id=f"httproute/{route.meta.namespace}/{route.meta.name}#r{ri}m{mi}{suffix}",
        host=hostname.lower() if hostname else None,
        host_kind=kind,
        path=match.path.value,
        path_type=_PATH_TYPES[match.path.type],
        backend=backend.backend,
        source=route.ref,
        middlewares=middlewares,
        entrypoints=tuple(where.entrypoints),
        tls=TLSSource.SECRET if where.https else None,
        location=match.location or rule.location or route.meta.location,
        gateway=gateway,
    )


def _conflicts(routes: list[Route], found: list[Diagnostic]) -> None:
    """Identical matches on a shared entrypoint: the first in precedence wins, the others never serve."""
    seen: dict[tuple[object, ...], Route] = {}
    for route in routes:
        g = route.gateway
        assert g is not None
        key = (
            route.host,
            g.path_type,
            prefix_key(g.path) if g.path_type is PathMatchType.PATH_PREFIX else g.path,
            g.method,
            tuple(sorted((h.name.lower(), h.type, h.value) for h in g.headers)),
            tuple(sorted((q.name, q.type, q.value) for q in g.query_params)),
        )
        winner = seen.get(key)
        if winner is None:
            seen[key] = route
            continue
        if winner.source == route.source or not set(winner.entrypoints) & set(route.entrypoints):
            continue
        found.append(
            finding(
                codes.CONFLICT,
                Severity.WARNING,
                route.source,
                f"{route.host or '(any host)'} {g.describe()} is also matched by {winner.source} "
                f"({winner.location or 'unknown location'}), which wins (older, or its name sorts first); "
                "this match never serves",
                "Give one of the two routes another hostname, path or condition, or remove it.",
                route.location,
            )
        )
