"""compile(): a Snapshot becomes a RoutingTable plus Diagnostics. Pure: no I/O, no clock.

One broken Ingress never takes the others down: every problem is a Diagnostic, and a route whose
backend cannot be served still exists (with `backend.problem`) so that the proxy answers 503.
"""

from __future__ import annotations

import dataclasses
import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    HostKind,
    Ingress,
    IngressBackend,
    Location,
    ObjectRef,
    PathType,
    RegexPath,
    Route,
    RouteBackend,
    RouteMiddlewares,
    Secret,
    Severity,
    Snapshot,
    TLSCertificate,
    TLSSource,
    Upstream,
)
from ingressctl.model.backend_policy import BackendPolicy
from ingressctl.routing import codes
from ingressctl.routing.annotations import IngressAnnotations, parse_annotations
from ingressctl.routing.annotations_backend import BackendPolicies
from ingressctl.routing.annotations_rewrites import PATH_MATCHER, www_alias, www_alias_rewrites
from ingressctl.routing.backend_protocol import apply_protocol, service_findings
from ingressctl.routing.backends import BackendResolver
from ingressctl.routing.canary import no_main_finding
from ingressctl.routing.classes import ClassSelector
from ingressctl.routing.hosts import validate_host
from ingressctl.routing.memo import CompileCache
from ingressctl.routing.nginx_paths import PatternChecks, regex_path, rewrite_group_warning
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.path_regexp import path_regexp_path
from ingressctl.routing.paths import match_length, prefix_key
from ingressctl.routing.report import finding
from ingressctl.routing.service_access import ServiceAccess
from ingressctl.routing.service_host import ServiceHost
from ingressctl.routing.table import RoutingTable
from ingressctl.routing.tls import IngressTLSResult, ingress_tls

_TIER = {HostKind.EXACT: 0, HostKind.WILDCARD: 1, HostKind.ANY: 2}
_TYPE_RANK = {PathType.EXACT: 0, PathType.PREFIX: 1, PathType.IMPLEMENTATION_SPECIFIC: 2}

# (host kind, host, path key, path type): two candidates with the same key conflict.
_Key = tuple[HostKind, str, str, PathType]


def ingress_order(ingress: Ingress) -> tuple[bool, str, str, str]:
    """Who wins a conflict: oldest creationTimestamp (missing counts as newest), then namespace/name."""
    ts = ingress.meta.creation_timestamp
    return (ts == "", ts, ingress.meta.namespace, ingress.meta.name)


@dataclass(slots=True)
class _Candidate:
    ingress: Ingress
    annotations: IngressAnnotations
    route_id: str
    host: str | None
    host_kind: HostKind
    path: str
    path_type: PathType
    backends: tuple[IngressBackend, ...]  # several only for a service-weights split
    location: Location | None
    order: tuple[bool, str, str, str, int, int]
    regex: RegexPath | None = None  # set by _Compiler._regex_hosts for hosts with ingress-nginx regex paths
    # ingress-nginx canary merged into this (main) candidate: (main percent, canary percent).
    canary_split: tuple[float, float] | None = None

    @property
    def key(self) -> _Key:
        path = prefix_key(self.path) if self.path_type is PathType.PREFIX else self.path
        return (self.host_kind, self.host or "", path, self.path_type)


@dataclass(slots=True)
class _IngressPart:
    """What one Ingress contributes, before conflicts between Ingresses are settled."""

    ingress: Ingress
    diagnostics: list[Diagnostic]
    certificates: list[TLSCertificate]
    tls_hosts: list[tuple[str, bool]]
    candidates: list[_Candidate]
    default: _Candidate | None
    # What it was computed from, beyond the Ingress itself (CompileCache reuses it while these hold).
    classes_token: object
    secrets_in_input: bool
    secrets_read: dict[tuple[str, str], Secret | None]


@dataclass(slots=True)
class _RoutePart:
    candidate: _Candidate
    backend: RouteBackend
    tls: TLSSource | None
    route: Route
    order: tuple[int, str, int, int, int, str]  # _display_order(route), kept with the route


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
        self.tls_hosts = IngressTLSResult()
        self._protocol_reported: set[ObjectRef] = set()
        self._middleware_cache: dict[
            tuple[int, int], tuple[IngressAnnotations, BackendPolicy | None, RouteMiddlewares]
        ] = {}
        self.policies = BackendPolicies()

    def run(self) -> RoutingTable:
        selector = ClassSelector(self.snapshot.ingress_classes, self.options)
        candidates: list[_Candidate] = []
        defaults: list[_Candidate] = []
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
        parts = [
            self._route_part(c)
            for c in self._path_regexps(self._regex_hosts(self._resolve_conflicts(candidates)))
        ]
        parts.sort(key=_part_order)
        routes = [part.route for part in parts]
        default_route = None
        if defaults:
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
                        f"{winner.ingress.ref} wins ({_why_wins(winner, loser)})",
                        "Keep a single defaultBackend across the Ingresses ingressctl serves.",
                        loser.location,
                        related=(winner.location or winner.ingress.meta.location,),
                    )
                )
            default_route = self._route_part(winner, is_default=True).route
        self.diagnostics.extend(self.service_access.diagnostics)
        self.diagnostics.extend(self.service_host.diagnostics)
        previous = self.memo.table if self.memo is not None else None
        return RoutingTable(routes, certificates, default_route, previous=previous)

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

        part = _IngressPart(
            ingress=ingress,
            diagnostics=[],
            certificates=[],
            tls_hosts=[],
            candidates=[],
            default=None,
            classes_token=memo.classes_token if memo is not None else None,
            secrets_in_input=secrets_in_input,
            secrets_read=secrets_read,
        )
        not_ours = selector.select(ingress)
        if not_ours is not None:
            part.diagnostics.append(not_ours)
        else:
            annotations, found = parse_annotations(
                ingress,
                lookup,
                secrets_in_input,
                ignore_snippets=self.options.ignore_snippets,
                pass_tls_cert=self.options.pass_tls_cert,
            )
            part.diagnostics.extend(found)
            tls = ingress_tls(ingress, lookup, secrets_in_input)
            part.diagnostics.extend(tls.diagnostics)
            part.certificates = tls.certificates
            part.tls_hosts = tls.hosts
            part.candidates = self._candidates(ingress, annotations, part.diagnostics)
            if ingress.default_backend is not None:
                ns, name = ingress.meta.namespace, ingress.meta.name
                part.default = _Candidate(
                    ingress=ingress,
                    annotations=annotations,
                    route_id=f"{ns}/{name}#default",
                    host=None,
                    host_kind=HostKind.ANY,
                    path="",
                    path_type=PathType.PREFIX,
                    backends=(ingress.default_backend,),
                    location=ingress.default_backend.location or ingress.meta.location,
                    order=(*ingress_order(ingress), -1, -1),
                )
        if memo is not None:
            memo.next_ingresses[id(ingress)] = part
        return part

    def _same_secrets(self, read: dict[tuple[str, str], Secret | None]) -> bool:
        return all(self.secrets.get(key) is secret for key, secret in read.items())

    # ------------------------------------------------------------ rules → candidates

    def _candidates(
        self, ingress: Ingress, annotations: IngressAnnotations, diagnostics: list[Diagnostic]
    ) -> list[_Candidate]:
        ns, name = ingress.meta.namespace, ingress.meta.name
        out: list[_Candidate] = []
        for ri, rule in enumerate(ingress.rules):
            host = (rule.host or "").strip().lower() or None
            kind = HostKind.ANY
            if host is not None:
                problem = validate_host(host)
                if problem:
                    diagnostics.append(
                        finding(
                            codes.INVALID_HOST,
                            Severity.ERROR,
                            ingress,
                            f"rule {ri} host: {problem}; the rule is skipped",
                            "Write a DNS name (a.example.com) or a wildcard (*.example.com).",
                            rule.host_location or rule.location,
                        )
                    )
                    continue
                kind = HostKind.WILDCARD if host.startswith("*.") else HostKind.EXACT
            for pi, ingress_path in enumerate(rule.paths):
                path = ingress_path.path or "/"
                if not path.startswith("/"):
                    diagnostics.append(
                        finding(
                            codes.INVALID_PATH,
                            Severity.ERROR,
                            ingress,
                            f"path {path!r} does not start with '/'; it is skipped",
                            f"Write it as '/{path}'.",
                            ingress_path.location or rule.location,
                        )
                    )
                    continue
                path_type = ingress_path.path_type
                if annotations.path_type is not None and path_type in (
                    None,
                    PathType.IMPLEMENTATION_SPECIFIC,
                ):
                    path_type = annotations.path_type
                out.append(
                    _Candidate(
                        ingress=ingress,
                        annotations=annotations,
                        route_id=f"{ns}/{name}#r{ri}p{pi}",
                        host=host,
                        host_kind=kind,
                        path=path,
                        # v1beta1 without pathType: ImplementationSpecific, a plain string prefix.
                        path_type=path_type or PathType.IMPLEMENTATION_SPECIFIC,
                        backends=(ingress_path.backend,),
                        location=ingress_path.location or rule.location,
                        order=(*ingress_order(ingress), ri, pi),
                    )
                )
        if annotations.service_weights:
            out = _merge_weighted(out, annotations.service_weights)
        if annotations.rewrites is not None and annotations.rewrites.www_redirect:
            out += _www_aliases(out, annotations)
        return out

    def _resolve_conflicts(self, candidates: list[_Candidate]) -> list[_Candidate]:
        # A from-to-www-redirect route gives way to any rule that names its host (as ingress-nginx).
        named = {c.host for c in candidates if not c.route_id.endswith(WWW_ALIAS)}
        candidates = [c for c in candidates if c.host not in named or not c.route_id.endswith(WWW_ALIAS)]
        groups: dict[_Key, list[_Candidate]] = defaultdict(list)
        for candidate in candidates:
            groups[candidate.key].append(candidate)
        winners: list[_Candidate] = []
        for group in groups.values():
            group.sort(key=lambda c: c.order)
            group = self._merge_canaries(group)
            if not group:
                continue
            winner = group[0]
            winners.append(winner)
            for loser in group[1:]:
                self.diagnostics.append(_conflict(winner, loser))
        return winners

    def _merge_canaries(self, group: list[_Candidate]) -> list[_Candidate]:
        """ingress-nginx canaries of one (host, path): the first merges into the main candidate as a
        weighted split (routing/canary.py); a canary without a main serves nothing."""
        canaries = [c for c in group if c.annotations.canary is not None]
        if not canaries:
            return group
        mains = [c for c in group if c.annotations.canary is None]
        if not mains:
            first = canaries[0]
            self.diagnostics.append(no_main_finding(first.ingress, first.host, first.path))
            return []
        main, canary = mains[0], canaries[0]
        if canary.ingress.meta.namespace != main.ingress.meta.namespace:
            self.diagnostics.append(no_main_finding(canary.ingress, canary.host, canary.path))
            return mains
        split = canary.annotations.canary
        assert split is not None
        same_service = canary.backends[0].service_name == main.backends[0].service_name
        if len(main.backends) == 1 and not same_service:
            # A copy: the cached candidate of the main Ingress stays as it is for the next compile.
            main = dataclasses.replace(
                main,
                backends=(main.backends[0], canary.backends[0]),
                canary_split=(100.0 - split.percent, split.percent),
            )
        return [main, *(c for c in mains[1:])]

    def _path_regexps(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """router.pathmatcher PathRegexp: those paths (outside ingress-nginx regex hosts) are regexes."""
        kept: list[_Candidate] = []
        for candidate in candidates:
            impl = candidate.path_type is PathType.IMPLEMENTATION_SPECIFIC
            if candidate.regex is None and candidate.annotations.path_regexp and impl:
                candidate.regex, problem = path_regexp_path(candidate.ingress, candidate.path, PATH_MATCHER)
                if problem is not None:
                    self.diagnostics.append(problem)
                    continue
            kept.append(candidate)
        return kept

    def _regex_hosts(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """ingress-nginx: use-regex or rewrite-target on any Ingress of a host makes every path of
        that host a regular expression (routing/nginx_paths.py). Paths RE2 refuses are not routed."""
        sources: dict[tuple[HostKind, str], str] = {}
        for candidate in candidates:
            regex = candidate.annotations.regex
            if regex is not None and regex.makes_regex:
                bucket = (candidate.host_kind, candidate.host or "")
                what = "use-regex" if regex.use_regex else "rewrite-target"
                sources.setdefault(bucket, f"{what} on {candidate.ingress.ref}")
        if not sources:
            for candidate in candidates:
                candidate.regex = None
            return candidates
        checks = PatternChecks([c.path for c in candidates if (c.host_kind, c.host or "") in sources])
        kept: list[_Candidate] = []
        for candidate in candidates:
            source = sources.get((candidate.host_kind, candidate.host or ""))
            if source is None:
                candidate.regex = None
                kept.append(candidate)
                continue
            own = candidate.annotations.regex
            candidate.regex, problem = regex_path(candidate.ingress, candidate.path, own, source, checks)
            if problem is not None:
                self.diagnostics.append(problem)
                continue
            if own is not None and own.rewrite_target is not None:
                warning = rewrite_group_warning(candidate.ingress, candidate.path, own.rewrite_target)
                if warning is not None:
                    self.diagnostics.append(warning)
            kept.append(candidate)
        return kept

    # ------------------------------------------------------------ candidates → routes

    def _backend(self, candidate: _Candidate) -> RouteBackend:
        resolved: list[RouteBackend] = []
        for backend in candidate.backends:
            result, found = self.resolver.resolve(candidate.ingress, backend, candidate.location)
            self.diagnostics.extend(found)
            resolved.append(result)
        if len(resolved) == 1:
            backend_result = resolved[0]
        elif candidate.canary_split is not None:
            main_share, canary_share = candidate.canary_split
            weights = {resolved[0].service: main_share, resolved[1].service: canary_share}
            backend_result = _split(resolved, weights)
        else:
            backend_result = _split(resolved, candidate.annotations.service_weights)
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

    def _protocol(self, candidate: _Candidate, backend: RouteBackend) -> RouteBackend:
        """The backend with its protocol and TLS settings (routing/backend_protocol.py)."""
        service, port = self.resolver.service_port(candidate.ingress.meta.namespace, candidate.backends[0])
        if service is not None and service.ref not in self._protocol_reported:
            self._protocol_reported.add(service.ref)
            self.diagnostics.extend(service_findings(service))
        settings = candidate.annotations.upstream
        key = ("protocol", id(backend), id(settings), id(service), id(port))
        memo = self.memo
        if memo is not None:
            hit = memo.backends.get(key)
            if hit is not None and hit[0] is backend and hit[1] is settings and hit[2] is service:
                memo.next_backends[key] = hit
                result: RouteBackend = hit[4]
                return result
        result = apply_protocol(backend, settings, service, port)
        if memo is not None:
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
                ),
            )
        return found[2]

    def _backend_policy(self, candidate: _Candidate) -> BackendPolicy | None:
        """The policy of the candidate's (first) backend Service: see routing/annotations_backend."""
        name = candidate.backends[0].service_name if candidate.backends else None
        service = self.resolver.services.get((candidate.ingress.meta.namespace, name)) if name else None
        ingress = candidate.ingress

        def resolve(service_name: str, port: str) -> RouteBackend:
            # Error-page and fallback Services; their findings are the policy's (a warning), not a route's.
            if not port:
                target = self.resolver.services.get((ingress.meta.namespace, service_name))
                port = str(target.ports[0].port) if target is not None and target.ports else ""
            number = int(port) if port.isdigit() else None
            reference = IngressBackend(service_name, number, port if number is None and port else None)
            return self.resolver.resolve(ingress, reference)[0]

        policy, found = self.policies.of(ingress, service, resolve)
        self.diagnostics.extend(found)
        return policy

    def _route_part(self, candidate: _Candidate, is_default: bool = False) -> _RoutePart:
        ann = candidate.annotations
        tls = None if is_default else self.tls_hosts.source_for(candidate.host, self.tls_fallback)
        if ann.tls_only and tls is None and candidate.host is not None:
            tls = self.tls_fallback
        backend = self._backend(candidate)
        policy = self._backend_policy(candidate)  # before the memo: its findings are reported each time
        if policy is not None and policy.fallback_backend is not None and backend.problem in _FALLBACK_WHEN:
            # ingress-nginx default-backend: serves while the route's own Service cannot.
            fallback = policy.fallback_backend
            backend = RouteBackend(
                backend.namespace,
                backend.service,
                backend.port,
                upstreams=fallback.upstreams,
                scheme=fallback.scheme,
                split=backend.split,
                tls=fallback.tls,
            )
        middlewares = self.service_host.apply(
            backend, self.service_access.apply(backend, self._middlewares(ann, policy))
        )
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
        route = Route(
            id=candidate.route_id,
            host=candidate.host,
            host_kind=candidate.host_kind,
            path=candidate.path,
            path_type=candidate.path_type,
            backend=backend,
            source=candidate.ingress.ref,
            middlewares=middlewares,
            entrypoints=entrypoints,
            tls=tls,
            priority=ann.priority,
            location=candidate.location,
            is_default_backend=is_default,
            strip_prefix=ann.strip_prefix and not is_default,
            tls_only=ann.tls_only,
            cert_resolver=ann.cert_resolver,
            regex=None if is_default else candidate.regex,
        )
        part = _RoutePart(candidate, backend, tls, route, _display_order(route))
        if memo is not None:
            memo.next_routes[id(candidate)] = part
        return part


_FALLBACK_WHEN = frozenset(
    {BackendProblem.SERVICE_NOT_FOUND, BackendProblem.NO_ENDPOINTS, BackendProblem.NO_READY_ENDPOINTS}
)


WWW_ALIAS = "#www"


def _www_aliases(candidates: list[_Candidate], annotations: IngressAnnotations) -> list[_Candidate]:
    """ingress-nginx from-to-www-redirect: a route for the other host of each exact host (www.HOST or
    HOST) that redirects there, unless a rule names that host (see _resolve_conflicts)."""
    hosts = {c.host: c for c in candidates if c.host is not None and c.host_kind is HostKind.EXACT}
    out: list[_Candidate] = []
    for host, first in sorted(hosts.items()):
        alias = www_alias(host)
        if alias in hosts:
            continue
        # Served where the Ingress is (entrypoints, TLS); a redirect only, so no other middleware.
        alias_annotations = dataclasses.replace(
            annotations,
            redirect=None,
            basic_auth=None,
            auth_error="",
            allow_error="",
            allow_source_ranges=(),
            strip_prefix=False,
            rewrites=www_alias_rewrites(host),
        )
        out.append(
            dataclasses.replace(
                first,
                annotations=alias_annotations,
                route_id=f"{first.route_id}{WWW_ALIAS}",
                host=alias,
                path="/",
                path_type=PathType.IMPLEMENTATION_SPECIFIC,
                order=(True, "\uffff", *first.order[2:]),
            )
        )
    return out


def _merge_weighted(candidates: list[_Candidate], weights: dict[str, float]) -> list[_Candidate]:
    """Paths of one Ingress with the same (host, path, type) and services named in service-weights
    become one route whose upstreams are the union of the services' endpoints (Traefik v1 style)."""
    groups: dict[_Key, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.key].append(candidate)
    out: list[_Candidate] = []
    for group in groups.values():
        services = [c.backends[0].service_name for c in group]
        if len(group) > 1 and len(set(services)) == len(services) and any(s in weights for s in services):
            first = group[0]
            first.backends = tuple(c.backends[0] for c in group)
            out.append(first)
        else:
            out.extend(group)
    out.sort(key=lambda c: c.order)
    return out


def _split(resolved: list[RouteBackend], weights: dict[str, float]) -> RouteBackend:
    """Each service gets its listed percent; unlisted services share what remains equally.
    A service's percent is divided among its endpoints as integer weights (percent × 100 / n)."""
    listed = sum(weights[b.service] for b in resolved if b.service in weights)
    unlisted = [b for b in resolved if b.service not in weights]
    remaining = max(100.0 - listed, 0.0) / len(unlisted) if unlisted else 0.0
    upstreams: list[Upstream] = []
    split: list[tuple[str, float]] = []
    for backend in resolved:
        percent = weights.get(backend.service, remaining)
        split.append((backend.service, percent))
        if backend.problem is not None or not backend.upstreams or percent <= 0:
            continue
        weight = max(1, round(percent * 100 / len(backend.upstreams)))
        upstreams.extend(
            Upstream(u.host, u.port, weight=u.weight * weight, fallback=u.fallback) for u in backend.upstreams
        )
    first = resolved[0]
    if not upstreams:
        broken = next((b for b in resolved if b.problem is not None), first)
        return RouteBackend(
            first.namespace,
            first.service,
            first.port,
            problem=broken.problem or BackendProblem.NO_READY_ENDPOINTS,
            problem_detail=broken.problem_detail or "no weighted service has a usable endpoint",
            split=tuple(split),
        )
    return RouteBackend(
        first.namespace, first.service, first.port, upstreams=tuple(upstreams), split=tuple(split)
    )


def _conflict(winner: _Candidate, loser: _Candidate) -> Diagnostic:
    """The finding for a path that another one claims first.

    Exact and Prefix paths of equal text are an error, as ingress-nginx's admission webhook refuses
    them: one of the two is never routed. ImplementationSpecific paths stay a warning (their meaning
    is the controller's). Across namespaces this is how one team takes another team's traffic.
    """
    where = winner.location or winner.ingress.meta.location
    host = winner.host or "(any host)"
    severity = Severity.WARNING if loser.path_type is PathType.IMPLEMENTATION_SPECIFIC else Severity.ERROR
    message = (
        f"host {host} {loser.path_type.value} {loser.path} is also claimed by "
        f"{winner.ingress.ref} ({where or 'unknown location'}); {winner.ingress.ref} wins "
        f"({_why_wins(winner, loser)}) and this path is not routed"
    )
    hint = "Remove one of the two paths, or give them different hosts or paths."
    if winner.ingress.meta.namespace != loser.ingress.meta.namespace:
        message += (
            f"; across namespaces ({winner.ingress.meta.namespace} and {loser.ingress.meta.namespace}) "
            "this is how one team can take another team's traffic"
        )
        hint = (
            "Decide which namespace owns the host; an admission policy that gives each host to one "
            "namespace prevents it."
        )
    return finding(codes.CONFLICT, severity, loser.ingress, message, hint, loser.location, related=(where,))


def _why_wins(winner: _Candidate, loser: _Candidate) -> str:
    if winner.ingress is loser.ingress:
        return "it comes first in the same Ingress"
    wts, lts = winner.ingress.meta.creation_timestamp, loser.ingress.meta.creation_timestamp
    if wts and wts != lts:
        return f"created earlier: {wts} vs {lts or 'unknown'}"
    return "same or unknown creation time; its namespace/name sorts first"


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
    with _collector_paused():
        if cache is not None:
            cache.begin(options, snapshot.ingress_classes)
        compiler = _Compiler(snapshot, options, cache)
        table = compiler.run()
        if cache is not None:
            cache.commit(table)
    return table, compiler.diagnostics


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while compiling.

    Compiling allocates a few objects per route, and the collections they trigger walk the whole
    heap, snapshot included: on 30,000 objects that made compiling two to three times slower. A
    collector that was already off (or paused by another thread) is left as it was; anything
    cyclic is collected once it runs again.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
