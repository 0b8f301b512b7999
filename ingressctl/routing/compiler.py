"""compile(): a Snapshot becomes a RoutingTable plus Diagnostics. Pure: no I/O, no clock.

One broken Ingress never takes the others down: every problem is a Diagnostic, and a route whose
backend cannot be served still exists (with `backend.problem`) so that the proxy answers 503.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.gc_pause import collector_paused
from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    HostKind,
    Ingress,
    ObjectRef,
    PathType,
    Route,
    RouteBackend,
    RouteMiddlewares,
    Secret,
    Severity,
    Snapshot,
    TLSCertificate,
    TLSSource,
)
from ingressctl.routing import codes
from ingressctl.routing.annotations import IngressAnnotations, parse_annotations
from ingressctl.routing.backend_policy_resolution import BackendPolicyResolver, with_fallback
from ingressctl.routing.backend_protocol import apply_protocol, service_findings
from ingressctl.routing.backends import BackendResolver
from ingressctl.routing.canary_merge import merge_canaries
from ingressctl.routing.candidates import Candidate, CandidateKey, conflict_finding, why_wins
from ingressctl.routing.classes import ClassSelector
from ingressctl.routing.memo import CompileCache
from ingressctl.routing.nginx_defaults import takes_over, with_nginx_defaults
from ingressctl.routing.nginx_server import cluster_ip_backend, no_cluster_ip_finding
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.path_regexp import path_regexps
from ingressctl.routing.paths import match_length
from ingressctl.routing.regex_hosts import regex_hosts
from ingressctl.routing.report import finding
from ingressctl.routing.rule_candidates import default_candidate, rule_candidates
from ingressctl.routing.server_aliases import server_aliases
from ingressctl.routing.service_access import ServiceAccess
from ingressctl.routing.service_host import ServiceHost
from ingressctl.routing.table import RoutingTable
from ingressctl.routing.tls import IngressTLSResult, ingress_tls
from ingressctl.routing.weighted import split
from ingressctl.routing.www_aliases import drop_named_aliases

if TYPE_CHECKING:  # families a plain Ingress does not use load with their first annotation (issue 18)
    from ingressctl.model.backend_policy import BackendPolicy
    from ingressctl.model.canary import CanaryRouting

_TIER = {HostKind.EXACT: 0, HostKind.WILDCARD: 1, HostKind.ANY: 2}
_TYPE_RANK = {PathType.EXACT: 0, PathType.PREFIX: 1, PathType.IMPLEMENTATION_SPECIFIC: 2}


@dataclass(slots=True)
class _IngressPart:
    """What one Ingress contributes, before conflicts between Ingresses are settled."""

    ingress: Ingress
    diagnostics: list[Diagnostic]
    certificates: list[TLSCertificate]
    tls_hosts: list[tuple[str, bool]]
    candidates: list[Candidate]
    default: Candidate | None
    # What it was computed from, beyond the Ingress itself (CompileCache reuses it while these hold).
    classes_token: object
    secrets_in_input: bool
    secrets_read: dict[tuple[str, str], Secret | None]


@dataclass(slots=True)
class _RoutePart:
    """A built route with what built it, until the routes are sorted."""

    candidate: Candidate
    backend: RouteBackend
    tls: TLSSource | None
    route: Route
    order: tuple[int, str, int, int, int, str]  # _display_order(route), kept with the route


@dataclass(slots=True)
class Prepared:
    """What `_Compiler.prepare` leaves: the candidates to route, in order, and the defaultBackends."""

    routed: list[Candidate]
    defaults: list[Candidate]
    certificates: list[TLSCertificate]


class _Compiler:
    def __init__(self, snapshot: Snapshot, options: CompileOptions, memo: CompileCache | None = None) -> None:
        self.snapshot = snapshot
        self.options = options
        self.memo = memo
        self.diagnostics: list[Diagnostic] = []
        self.secrets = {(s.meta.namespace, s.meta.name): s for s in snapshot.secrets}
        self.resolver = BackendResolver(snapshot, options, memo)
        self.service_access = ServiceAccess(self.resolver.services)
        self.service_host = ServiceHost(self.resolver.services)
        self.tls_fallback = TLSSource.ACME if options.acme_enabled else TLSSource.DEFAULT
        # Only standing in for ingress-nginx adds its defaults (routing/nginx_defaults.py).
        self.takes_over = takes_over(options)
        self.tls_hosts = IngressTLSResult()
        self._protocol_reported: set[tuple[str, str]] = set()
        self._reported: set[tuple[ObjectRef, str]] = set()
        self._middleware_cache: dict[
            tuple[int, int], tuple[IngressAnnotations, BackendPolicy | None, RouteMiddlewares]
        ] = {}
        self.policies = BackendPolicyResolver(self.resolver)
        # (namespace, annotations) -> their parse, for parses that found nothing and read no Secret.
        self._parsed: dict[tuple[str, tuple[tuple[str, str], ...]], IngressAnnotations] = {}

    def run(self) -> RoutingTable:
        prepared = self.prepare()
        parts = [self._route_part(c) for c in prepared.routed]
        parts.sort(key=_part_order)
        routes = [part.route for part in parts]
        default_route = self.default_route(prepared.defaults)
        certificates = prepared.certificates
        self.diagnostics.extend(self.service_access.diagnostics)
        self.diagnostics.extend(self.service_host.diagnostics)
        previous = self.memo.table if self.memo is not None else None
        snapshot = self.snapshot
        # Without GatewayClasses, Gateways or HTTPRoutes the Gateway API compile has nothing to
        # attach, report or route; skipping it keeps its code unloaded (validate's start-up).
        has_gateway_api = snapshot.gateway_classes or snapshot.gateways or snapshot.http_routes
        if not self.options.gateway or not has_gateway_api:
            return RoutingTable(routes, certificates, default_route, previous=previous)
        from ingressctl.gateway.build import compile_gateway
        from ingressctl.gateway.overlaps import ingress_overlaps

        gateway = compile_gateway(
            snapshot,
            self.options,
            self.resolver,
            previous,
            self.memo.gateway if self.memo is not None else None,
        )
        self.diagnostics.extend(gateway.diagnostics)
        self.diagnostics.extend(ingress_overlaps(routes, gateway.routes))
        return RoutingTable(
            routes + gateway.routes,
            certificates + gateway.certificates,
            default_route,
            previous=previous,
            gateway_status=gateway.status,
        )

    def prepare(self) -> Prepared:
        """Every Ingress read and the conflicts between them settled: what remains is one route
        part per candidate (independent of each other, see routing/split_compile.py) and the
        default route."""
        selector = ClassSelector(self.snapshot.ingress_classes, self.options)
        candidates: list[Candidate] = []
        defaults: list[Candidate] = []
        certificates: list[TLSCertificate] = []
        for ingress in sorted(self.snapshot.ingresses, key=lambda i: (i.meta.namespace, i.meta.name)):
            part = self._ingress_part(ingress, selector)
            self.diagnostics.extend(part.diagnostics)
            certificates.extend(part.certificates)
            # Like ingress-nginx, TLS is per host: a tls section of any served Ingress covers the
            # host's routes from every Ingress.
            self.tls_hosts.hosts.extend(part.tls_hosts)
            candidates.extend(part.candidates)
            if part.default is not None:
                defaults.append(part.default)
        winners, found = server_aliases(self._resolve_conflicts(candidates))
        self.diagnostics.extend(found)
        routed, found = regex_hosts(winners)
        self.diagnostics.extend(found)
        routed, found = path_regexps(routed)
        self.diagnostics.extend(found)
        return Prepared(routed, defaults, certificates)

    def default_route(self, defaults: list[Candidate]) -> Route | None:
        """The route of the first defaultBackend; a finding for each other one."""
        if not defaults:
            return None
        defaults.sort(key=lambda c: c.order)
        winner = defaults[0]
        for loser in defaults[1:]:
            self.diagnostics.append(
                finding(
                    codes.DUPLICATE_DEFAULT_BACKEND,
                    Severity.WARNING,
                    loser.ingress,
                    f"defaultBackend is also set by {winner.ingress.ref} "
                    f"({winner.location or winner.ingress.meta.location or 'unknown location'}); "
                    f"{winner.ingress.ref} wins ({why_wins(winner, loser)})",
                    "Keep a single defaultBackend across the Ingresses ingressctl serves.",
                    loser.location,
                    related=(winner.location or winner.ingress.meta.location,),
                )
            )
        return self._route_part(winner, is_default=True).route

    # ------------------------------------------------------------ one Ingress

    def _ingress_part(self, ingress: Ingress, selector: ClassSelector) -> _IngressPart:
        # A missing Secret follows the Services' rule: an error only when the input is declared
        # complete, whatever other Secrets the input holds.
        secrets_in_input = self.options.require_services
        memo = self.memo
        if memo is not None:
            hit: _IngressPart | None = memo.ingresses.get(id(ingress))
            if (
                hit is not None
                and hit.ingress is ingress
                and hit.classes_token is memo.classes_token
                and hit.secrets_in_input == secrets_in_input
                and (not hit.secrets_read or self._same_secrets(hit.secrets_read))
            ):
                memo.next_ingresses[id(ingress)] = hit
                return hit
        secrets_read: dict[tuple[str, str], Secret | None] = {}

        def lookup(namespace: str, name: str) -> Secret | None:
            # Every Secret looked up is an input of this part: the cache checks them next time.
            found = secrets_read[(namespace, name)] = self.secrets.get((namespace, name))
            return found

        part = _IngressPart(  # ingress, diagnostics, certificates, tls_hosts, candidates, default, ...
            ingress,
            [],
            [],
            [],
            [],
            None,
            memo.classes_token if memo is not None else None,
            secrets_in_input,
            secrets_read,
        )
        not_ours = selector.select(ingress)
        if not_ours is not None:
            part.diagnostics.append(not_ours)
        else:
            annotations = self._annotations(ingress, lookup, secrets_in_input, part.diagnostics)
            if self.takes_over:
                annotations = with_nginx_defaults(ingress, annotations, self.options)
            tls = ingress_tls(ingress, lookup, secrets_in_input)
            part.diagnostics.extend(tls.diagnostics)
            part.certificates = tls.certificates
            part.tls_hosts = tls.hosts
            part.candidates = rule_candidates(ingress, annotations, part.diagnostics)
            if ingress.default_backend is not None:
                part.default = default_candidate(ingress, ingress.default_backend, annotations)
        if memo is not None:
            memo.next_ingresses[id(ingress)] = part
        return part

    def _annotations(
        self,
        ingress: Ingress,
        lookup: Callable[[str, str], Secret | None],
        secrets_in_input: bool,
        diagnostics: list[Diagnostic],
    ) -> IngressAnnotations:
        """parse_annotations, once per distinct (namespace, annotations) that parse cleanly.

        Most Ingresses of a large input carry the same few annotations (an entrypoint, a class): a
        parse that reported nothing and looked up no Secret depends on nothing else, so its result
        is shared (parse_annotations reads only the annotations and the namespace). A parse with
        findings runs for every Ingress: findings name their Ingress and line.
        """
        key = (ingress.meta.namespace, tuple(ingress.meta.annotations.items()))
        parsed = self._parsed.get(key)
        if parsed is not None:
            return parsed
        looked_up = False

        def recorded(namespace: str, name: str) -> Secret | None:
            nonlocal looked_up
            looked_up = True
            return lookup(namespace, name)

        parsed, found = parse_annotations(
            ingress,
            recorded,
            secrets_in_input,
            ignore_snippets=self.options.ignore_snippets,
            pass_tls_cert=self.options.pass_tls_cert,
        )
        diagnostics.extend(found)
        if not found and not looked_up:
            self._parsed[key] = parsed
        return parsed

    def _same_secrets(self, read: dict[tuple[str, str], Secret | None]) -> bool:
        return all(self.secrets.get(key) is secret for key, secret in read.items())

    def _resolve_conflicts(self, candidates: list[Candidate]) -> list[Candidate]:
        candidates = drop_named_aliases(candidates)
        groups: dict[CandidateKey, list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            groups[candidate.key].append(candidate)
        winners: list[Candidate] = []
        for group in groups.values():
            if len(group) == 1 and group[0].annotations.canary is None:
                winners.append(group[0])  # the usual path: no conflict, no canary to merge
                continue
            group.sort(key=lambda c: c.order)
            group, found = merge_canaries(group)
            self.diagnostics.extend(found)
            if not group:
                continue
            winner = group[0]
            winners.append(winner)
            for loser in group[1:]:
                self.diagnostics.append(conflict_finding(winner, loser))
                # Its backends' findings too: an Ingress gets them whatever else the input holds (issue 18).
                for backend in loser.backends:
                    self.diagnostics.extend(self.resolver.resolve(loser.ingress, backend, loser.location)[1])
        return winners

    def _backend(self, candidate: Candidate) -> RouteBackend:
        resolved: list[RouteBackend] = []
        for backend in candidate.backends:
            result, found = self.resolver.resolve(candidate.ingress, backend, candidate.location)
            self.diagnostics.extend(found)
            resolved.append(result)
        if len(resolved) == 1:
            backend_result = resolved[0]
            if candidate.annotations.server.service_upstream:
                backend_result = self._service_upstream(candidate, backend_result)
        elif candidate.canary_split is not None:
            main_share, canary_share = candidate.canary_split
            weights = {resolved[0].service: main_share, resolved[1].service: canary_share}
            backend_result = split(resolved, weights)
        else:
            backend_result = split(resolved, candidate.annotations.service_weights)
        backend_result = self._protocol(candidate, backend_result)
        if candidate.annotations.auth_error:
            return RouteBackend(
                backend_result.namespace,
                backend_result.service,
                backend_result.port,
                problem=BackendProblem.AUTH_SECRET_INVALID,
                problem_detail=f"basic auth is broken: {candidate.annotations.auth_error}",
                split=backend_result.split,
            )
        if candidate.annotations.allow_error:
            return RouteBackend(
                backend_result.namespace,
                backend_result.service,
                backend_result.port,
                problem=BackendProblem.ACCESS_RULE_INVALID,
                problem_detail=candidate.annotations.allow_error,
                split=backend_result.split,
            )
        if candidate.annotations.refusal:
            return RouteBackend(
                backend_result.namespace,
                backend_result.service,
                backend_result.port,
                problem=BackendProblem.ANNOTATION_REFUSED,
                problem_detail=candidate.annotations.refusal,
                split=backend_result.split,
            )
        return backend_result

    def _service_upstream(self, candidate: Candidate, backend: RouteBackend) -> RouteBackend:
        """ingress-nginx service-upstream: the Service's cluster IP (routing/nginx_server.py)."""
        service, port = self.resolver.service_port(candidate.ingress.meta.namespace, candidate.backends[0])
        key = ("cluster-ip", id(backend), id(service), id(port))
        memo = self.memo
        hit = memo.backends.get(key) if memo is not None else None
        result: RouteBackend
        why: str
        if hit is not None and hit[0] is backend and hit[1] is service and hit[2] is port:
            result, why = hit[3], hit[4]  # the same RouteBackend: the route and its plan are kept
        else:
            result, why = cluster_ip_backend(backend, service, port)
        if memo is not None:
            memo.next_backends[key] = (backend, service, port, result, why)
        if why and (candidate.ingress.ref, why) not in self._reported:
            self._reported.add((candidate.ingress.ref, why))
            self.diagnostics.append(no_cluster_ip_finding(candidate.ingress, why))
        return result

    def _protocol(self, candidate: Candidate, backend: RouteBackend) -> RouteBackend:
        """The backend with its protocol and TLS settings (routing/backend_protocol.py)."""
        service, port = self.resolver.service_port(candidate.ingress.meta.namespace, candidate.backends[0])
        if service is not None:
            name = (service.meta.namespace, service.meta.name)  # its ref, without building one per route
            if name not in self._protocol_reported:
                self._protocol_reported.add(name)
                self.diagnostics.extend(service_findings(service))
        settings = candidate.annotations.upstream
        memo = self.memo
        if memo is None:
            return apply_protocol(backend, settings, service, port)
        key = ("protocol", id(backend), id(settings), id(service), id(port))
        hit = memo.backends.get(key)
        if hit is not None and hit[0] is backend and hit[1] is settings and hit[2] is service:
            memo.next_backends[key] = hit
            result: RouteBackend = hit[4]
            return result
        result = apply_protocol(backend, settings, service, port)
        memo.next_backends[key] = (backend, settings, service, port, result)
        return result

    def _middlewares(self, ann: IngressAnnotations, policy: BackendPolicy | None = None) -> RouteMiddlewares:
        # One frozen RouteMiddlewares per Ingress (and backend policy), shared by its routes. Keyed
        # by id(): every IngressAnnotations and policy stays referenced until compile() returns.
        key = (id(ann), id(policy))
        found = self._middleware_cache.get(key)
        if found is None or found[0] is not ann or found[1] is not policy:
            found = self._middleware_cache[key] = (
                ann,
                policy,
                RouteMiddlewares(
                    redirect=ann.redirect,
                    basic_auth=ann.basic_auth,
                    allow_source_ranges=ann.allow_source_ranges,
                    client_auth=ann.client_auth,
                    access=ann.access,
                    cors=ann.cors,
                    backend_policy=policy,
                    rewrites=ann.rewrites,
                    client_cert_headers=ann.client_cert_headers,
                    access_log=ann.server.access_log,
                ),
            )
        return found[2]

    def _canary(self, main: Candidate, canary: Candidate) -> CanaryRouting:
        """The canary chosen per request: its backend resolved like the main one's (the main
        Ingress's protocol settings, as ingress-nginx ignores the canary's other annotations)."""
        resolved, found = self.resolver.resolve(canary.ingress, canary.backends[0], canary.location)
        self.diagnostics.extend(found)
        as_main = dataclasses.replace(main, backends=canary.backends, canary_of=None)
        backend = self._protocol(as_main, resolved)
        assert canary.annotations.canary is not None
        from ingressctl.model.canary import CanaryRouting

        return CanaryRouting(canary.annotations.canary.rules, canary.ingress.ref, backend)

    def route_findings(self, candidate: Candidate) -> tuple[RouteBackend, RouteMiddlewares]:
        """The candidate's backend and middlewares, their findings added to the compiler's: all a
        route part reports. `validate` (findings only) stops here (routing/split_compile.py)."""
        backend = self._backend(candidate)
        policy, found = self.policies.policy(candidate)  # before the memo: findings are reported each time
        self.diagnostics.extend(found)
        if policy is not None:
            backend = with_fallback(backend, policy)
        middlewares = self.service_host.apply(
            backend, self.service_access.apply(backend, self._middlewares(candidate.annotations, policy))
        )
        if candidate.canary_of is not None and backend.problem not in _REFUSED:
            canary = self._canary(candidate, candidate.canary_of)
            middlewares = dataclasses.replace(middlewares, canary=canary)
        return backend, middlewares

    def _route_part(self, candidate: Candidate, is_default: bool = False) -> _RoutePart:
        ann = candidate.annotations
        tls = None if is_default else self.tls_hosts.source_for(candidate.host, self.tls_fallback)
        if ann.tls_only and tls is None and candidate.host is not None:
            tls = self.tls_fallback
        backend, middlewares = self.route_findings(candidate)
        memo = self.memo
        if memo is not None:
            hit: _RoutePart | None = memo.routes.get(id(candidate))
            if (
                hit is not None
                and hit.candidate is candidate
                and hit.backend is backend
                and hit.tls is tls
                and hit.route.regex == candidate.regex
            ):
                memo.next_routes[id(candidate)] = hit
                return hit
        entrypoints = ann.entrypoints
        if not entrypoints and ann.tls_only:
            entrypoints = self.options.tls_entrypoints
        route = Route(  # positional, in the order of its fields: keywords make this twice as slow
            candidate.route_id,  # id
            candidate.host,
            candidate.host_kind,
            candidate.path,
            candidate.path_type,
            backend,
            candidate.ingress.ref,  # source
            middlewares,
            entrypoints,
            tls,
            ann.priority,
            candidate.location,
            is_default,  # is_default_backend
            ann.strip_prefix and not is_default,  # strip_prefix
            ann.tls_only,
            ann.cert_resolver,
            None if is_default else candidate.regex,  # regex
        )
        part = _RoutePart(candidate, backend, tls, route, _display_order(route))
        if memo is not None:
            memo.next_routes[id(candidate)] = part
        return part


# A route refused as a whole: no canary may serve it either.
_REFUSED = frozenset(
    {
        BackendProblem.AUTH_SECRET_INVALID,
        BackendProblem.ACCESS_RULE_INVALID,
        BackendProblem.ANNOTATION_REFUSED,
    }
)


def _part_order(part: _RoutePart) -> tuple[int, str, int, int, int, str]:
    return part.order


def _display_order(route: Route) -> tuple[int, str, int, int, int, str]:
    return (
        _TIER[route.host_kind],
        route.host or "",
        -route.priority,
        -match_length(route.path, route.path_type),
        _TYPE_RANK[route.path_type],
        route.id,
    )


def compile(
    snapshot: Snapshot, options: CompileOptions, cache: CompileCache | None = None
) -> tuple[RoutingTable, list[Diagnostic]]:
    """Turn a Snapshot into a RoutingTable and the Diagnostics found on the way. Pure and deterministic.

    With a `cache` (one per watch loop), results for objects that are the same objects as in the
    previous compile are reused: the result is the same, the work proportional to the change.
    """
    with collector_paused():
        if cache is not None:
            cache.begin(options, snapshot.ingress_classes)
        compiler = _Compiler(snapshot, options, cache)
        table = compiler.run()
        if cache is not None:
            cache.commit(table)
    return table, compiler.diagnostics
