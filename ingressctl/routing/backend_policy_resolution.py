"""The backend policy of a route (routing/annotations_backend.py: error pages, default-backend
fallback, retries, ...) resolved against the snapshot's Services, and its fallback applied."""

from __future__ import annotations

from ingressctl.model import BackendProblem, Diagnostic, IngressBackend, RouteBackend
from ingressctl.model.backend_policy import BackendPolicy
from ingressctl.routing.annotations_backend import BackendPolicies
from ingressctl.routing.backends import BackendResolver
from ingressctl.routing.candidates import Candidate

# The route's own Service cannot serve: ingress-nginx's default-backend takes over.
FALLBACK_WHEN = frozenset(
    {BackendProblem.SERVICE_NOT_FOUND, BackendProblem.NO_ENDPOINTS, BackendProblem.NO_READY_ENDPOINTS}
)


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
