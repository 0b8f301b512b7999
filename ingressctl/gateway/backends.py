"""backendRefs → one weighted RouteBackend, and the ResolvedRefs verdict.

The API's rules: a reference to something other than a Service (InvalidKind), to a Service that does
not exist (BackendNotFound), or into another namespace without a ReferenceGrant (RefNotPermitted)
is invalid, and the share of requests its weight stands for answers 500; weight 0 takes no
traffic; a rule whose backendRefs are all invalid or weigh 0 (or that has none) answers 500.
A valid Service without ready endpoints answers 503, as for Ingresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.gateway import reasons as r
from ingressctl.gateway.refs import Grants
from ingressctl.model import BackendProblem, Location, RouteBackend, Upstream
from ingressctl.model.gateway import GROUP, BackendRef
from ingressctl.model.gateway_routes import GatewayError
from ingressctl.routing.backends import BackendResolver

# Per-endpoint weights are the ref's weight spread over its endpoints: scaled so that small
# weights split over a few endpoints stay integers close to the exact share.
_SCALE = 2520  # divisible by 1..10


@dataclass(frozen=True, slots=True)
class RefProblem:
    reason: str  # InvalidKind, BackendNotFound, RefNotPermitted
    message: str
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class RuleBackend:
    backend: RouteBackend
    error: GatewayError | None
    problems: tuple[RefProblem, ...]


def check_ref(
    ref: BackendRef, namespace: str, grants: Grants, resolver: BackendResolver
) -> RefProblem | None:
    """Why an HTTPRoute in `namespace` may not use `ref` (None: it may)."""
    target_ns = ref.namespace_or(namespace)
    label = f"{target_ns}/{ref.name}"
    if not ref.is_service:
        kind = f"{ref.group}/{ref.kind}" if ref.group else ref.kind
        return RefProblem(
            r.INVALID_KIND, f"backendRef {ref.name} is a {kind}; only Services are supported", ref.location
        )
    if not grants.allows(GROUP, "HTTPRoute", namespace, "", "Service", target_ns, ref.name):
        return RefProblem(
            r.REF_NOT_PERMITTED,
            f"backendRef Service {label} is in another namespace and no ReferenceGrant in "
            f"{target_ns} allows it",
            ref.location,
        )
    if (target_ns, ref.name) not in resolver.services:
        return RefProblem(r.BACKEND_NOT_FOUND, f"Service {label} not found", ref.location)
    if ref.port is None:
        return RefProblem(r.BACKEND_NOT_FOUND, f"backendRef Service {label} names no port", ref.location)
    return None


def rule_backend(
    refs: tuple[BackendRef, ...], namespace: str, grants: Grants, resolver: BackendResolver
) -> RuleBackend:
    problems: list[RefProblem] = []
    invalid_weight = 0
    total = 0
    upstreams: list[Upstream] = []
    split: list[tuple[str, float]] = []
    resolved: list[RouteBackend] = []
    for ref in refs:
        total += ref.weight
        problem = check_ref(ref, namespace, grants, resolver)
        if problem is not None:
            problems.append(problem)
            invalid_weight += ref.weight
            continue
        if ref.weight == 0:
            continue
        backend = resolver.resolve_service(ref.namespace_or(namespace), ref.name, ref.port)
        resolved.append(backend)
        split.append((backend.service, float(ref.weight)))
        usable = [u for u in backend.upstreams]
        if backend.problem is not None or not usable:
            continue
        each = max(1, round(ref.weight * _SCALE / len(usable)))
        upstreams.extend(
            Upstream(u.host, u.port, weight=u.weight * each, fallback=u.fallback) for u in usable
        )
    error: GatewayError | None = None
    if not refs:
        error = GatewayError(500, 1.0, "the rule has no backendRefs")
    elif total == 0:
        error = GatewayError(500, 1.0, "every backendRef has weight 0")
    elif invalid_weight:
        detail = "; ".join(p.message for p in problems)
        error = GatewayError(500, invalid_weight / total, detail)
    if total and split:
        split = [(service, round(weight * 100 / total, 2)) for service, weight in split]
    first = resolved[0] if resolved else None
    if first is None:
        detail = error.detail if error is not None else "no backendRef"
        ref0 = refs[0] if refs else None
        return RuleBackend(
            RouteBackend(
                ref0.namespace_or(namespace) if ref0 else namespace,
                ref0.name if ref0 else "",
                str(ref0.port or "") if ref0 else "",
                problem=BackendProblem.SERVICE_NOT_FOUND,
                problem_detail=detail,
            ),
            error,
            tuple(problems),
        )
    if not upstreams:
        broken = next((b for b in resolved if b.problem is not None), first)
        backend = RouteBackend(
            first.namespace,
            first.service,
            first.port,
            problem=broken.problem or BackendProblem.NO_READY_ENDPOINTS,
            problem_detail=broken.problem_detail or "no backendRef has a usable endpoint",
            split=tuple(split) if len(split) > 1 else (),
        )
    else:
        backend = RouteBackend(
            first.namespace,
            first.service,
            first.port,
            upstreams=tuple(upstreams),
            split=tuple(split) if len(split) > 1 else (),
        )
    return RuleBackend(backend, error, tuple(problems))


def mirror_upstreams(
    ref: BackendRef, namespace: str, grants: Grants, resolver: BackendResolver
) -> tuple[tuple[str, ...], RefProblem | None]:
    problem = check_ref(ref, namespace, grants, resolver)
    if problem is not None:
        return (), problem
    backend = resolver.resolve_service(ref.namespace_or(namespace), ref.name, ref.port)
    return tuple(u.authority for u in backend.upstreams), None
