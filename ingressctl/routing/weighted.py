"""Weighted splits between Services: Traefik v1 service-weights and ingress-nginx canary-weight."""

from __future__ import annotations

from collections import defaultdict

from ingressctl.model import BackendProblem, RouteBackend, Upstream
from ingressctl.routing.candidates import Candidate, CandidateKey


def merge_weighted(candidates: list[Candidate], weights: dict[str, float]) -> list[Candidate]:
    """Paths of one Ingress with the same (host, path, type) and services named in service-weights
    become one route whose upstreams are the union of the services' endpoints (Traefik v1 style)."""
    groups: dict[CandidateKey, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.key].append(candidate)
    out: list[Candidate] = []
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


def split(resolved: list[RouteBackend], weights: dict[str, float]) -> RouteBackend:
    """Each service gets its listed percent; unlisted services share what remains equally.
    A service's percent is divided among its endpoints as integer weights (percent × 100 / n)."""
    listed = sum(weights[b.service] for b in resolved if b.service in weights)
    unlisted = [b for b in resolved if b.service not in weights]
    remaining = max(100.0 - listed, 0.0) / len(unlisted) if unlisted else 0.0
    upstreams: list[Upstream] = []
    shares: list[tuple[str, float]] = []
    for backend in resolved:
        percent = weights.get(backend.service, remaining)
        shares.append((backend.service, percent))
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
            split=tuple(shares),
        )
    return RouteBackend(
        first.namespace, first.service, first.port, upstreams=tuple(upstreams), split=tuple(shares)
    )
