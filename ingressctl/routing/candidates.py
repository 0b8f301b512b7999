"""Route candidates: what one Ingress rule path (or defaultBackend) asks for, before conflicts
between Ingresses are settled and before its backend is resolved (routing/compiler.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model import (
    Diagnostic,
    HostKind,
    Ingress,
    IngressBackend,
    Location,
    PathType,
    RegexPath,
    Severity,
)
from ingressctl.routing import codes
from ingressctl.routing.annotations import IngressAnnotations
from ingressctl.routing.paths import prefix_key
from ingressctl.routing.report import finding

# (host kind, host, path key, path type): two candidates with the same key conflict.
CandidateKey = tuple[HostKind, str, str, PathType]


def ingress_order(ingress: Ingress) -> tuple[bool, str, str, str]:
    """Who wins a conflict: oldest creationTimestamp (missing counts as newest), then namespace/name."""
    ts = ingress.meta.creation_timestamp
    return (ts == "", ts, ingress.meta.namespace, ingress.meta.name)


@dataclass(slots=True)
class Candidate:
    """One path of one Ingress that may become a route, before conflicts are settled."""

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
    regex: RegexPath | None = None  # set by routing/regex_hosts.py for hosts with ingress-nginx regex paths
    # ingress-nginx canary merged into this (main) candidate: (main percent, canary percent).
    canary_split: tuple[float, float] | None = None
    # ingress-nginx canary chosen per request (canary-by-header / -by-cookie) of this main candidate.
    canary_of: Candidate | None = None

    @property
    def key(self) -> CandidateKey:
        path = prefix_key(self.path) if self.path_type is PathType.PREFIX else self.path
        return (self.host_kind, self.host or "", path, self.path_type)


def why_wins(winner: Candidate, loser: Candidate) -> str:
    if winner.ingress is loser.ingress:
        return "it comes first in the same Ingress"
    wts, lts = winner.ingress.meta.creation_timestamp, loser.ingress.meta.creation_timestamp
    if wts and wts != lts:
        return f"created earlier: {wts} vs {lts or 'unknown'}"
    return "same or unknown creation time; its namespace/name sorts first"


def conflict_finding(winner: Candidate, loser: Candidate) -> Diagnostic:
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
        f"({why_wins(winner, loser)}) and this path is not routed"
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
