"""The backend policy of a route (routing/annotations_backend.py: error pages, default-backend
fallback, retries, ...) resolved against the snapshot's Services, and its fallback applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    Ingress,
    IngressBackend,
    Location,
    RouteBackend,
    Service,
)
from ingressctl.routing.backend_keys import KNOWN_BACKEND_ANNOTATIONS
from ingressctl.routing.backends import BackendResolver
from ingressctl.routing.candidates import Candidate

if TYPE_CHECKING:
    # The parser and its ~10 dataclasses load with the first backend annotation (start-up, issue 18).
    from ingressctl.model.backend_policy import BackendPolicy
    from ingressctl.routing.annotations_errors import ServiceResolver

# The route's own Service cannot serve: ingress-nginx's default-backend takes over.
FALLBACK_WHEN = frozenset(
    {BackendProblem.SERVICE_NOT_FOUND, BackendProblem.NO_ENDPOINTS, BackendProblem.NO_READY_ENDPOINTS}
)


_BACKEND_KEYS = KNOWN_BACKEND_ANNOTATIONS.keys()


def _has_policy(ingress: Ingress, service: Service | None) -> bool:
    """Whether the Ingress or its Service writes a backend annotation (most write none)."""
    return not _BACKEND_KEYS.isdisjoint(ingress.meta.annotations) or (
        service is not None and not _BACKEND_KEYS.isdisjoint(service.meta.annotations)
    )


class BackendPolicies:
    """One compile's policies: each (Ingress, Service) pair parsed once, each finding reported once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, str], tuple[Ingress, BackendPolicy]] = {}
        self._reported: set[tuple[str, str, Location | None]] = set()

    def of(
        self, ingress: Ingress, service: Service | None, resolve: ServiceResolver | None = None
    ) -> tuple[BackendPolicy | None, list[Diagnostic]]:
        """None for the common case of no backend annotation at all (nothing to show or build)."""
        if not _has_policy(ingress, service):
            return None, []
        from ingressctl.routing.annotations_backend import parse_backend_policy

        key = (
            id(ingress),
            *((service.meta.namespace, service.meta.name) if service is not None else ("", "")),
        )
        hit = self._cache.get(key)
        if hit is not None and hit[0] is ingress:
            policy = hit[1]
            return (policy if policy.sources else None), []
        policy, found = parse_backend_policy(ingress, service, resolve)
        self._cache[key] = (ingress, policy)
        fresh: list[Diagnostic] = []
        for diagnostic in found:
            mark = (diagnostic.code, diagnostic.message, diagnostic.location)
            if mark not in self._reported:
                self._reported.add(mark)
                fresh.append(diagnostic)
        return (policy if policy.sources else None), fresh


class BackendPolicyResolver:
    def __init__(self, resolver: BackendResolver) -> None:
        self.resolver = resolver
        self.policies = BackendPolicies()

    def policy(self, candidate: Candidate) -> tuple[BackendPolicy | None, list[Diagnostic]]:
        """The policy of the candidate's (first) backend Service and its findings."""
        name = candidate.backends[0].service_name if candidate.backends else None
        ingress = candidate.ingress
        services = self.resolver.services
        service = services.get((ingress.meta.namespace, name)) if name else None
        if not _has_policy(ingress, service):
            return None, []  # before making `resolve`: the usual route has no policy

        def resolve(service_name: str, port: str) -> RouteBackend:
            # Error-page and fallback Services; their findings are the policy's (a warning), not a route's.
            if not port:
                target = services.get((ingress.meta.namespace, service_name))
                port = str(target.ports[0].port) if target is not None and target.ports else ""
            number = int(port) if port.isdigit() else None
            reference = IngressBackend(service_name, number, port if number is None and port else None)
            return self.resolver.resolve(ingress, reference)[0]

        return self.policies.of(ingress, service, resolve)


def with_fallback(backend: RouteBackend, policy: BackendPolicy | None) -> RouteBackend:
    """The backend, served by the policy's fallback (ingress-nginx default-backend) while the route's
    own Service cannot serve."""
    if policy is None or policy.fallback_backend is None or backend.problem not in FALLBACK_WHEN:
        return backend
    fallback = policy.fallback_backend
    return RouteBackend(
        backend.namespace,
        backend.service,
        backend.port,
        upstreams=fallback.upstreams,
        scheme=fallback.scheme,
        split=backend.split,
        tls=fallback.tls,
    )
