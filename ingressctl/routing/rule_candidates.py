"""Rules → route candidates: what one Ingress asks for, before the compiler settles conflicts
between Ingresses (routing/compiler.py)."""

from __future__ import annotations

from ingressctl.model import Diagnostic, HostKind, Ingress, IngressBackend, PathType, Severity
from ingressctl.routing import codes
from ingressctl.routing.annotations import IngressAnnotations
from ingressctl.routing.candidates import Candidate, ingress_order
from ingressctl.routing.hosts import validate_host
from ingressctl.routing.report import finding
from ingressctl.routing.weighted import merge_weighted
from ingressctl.routing.www_aliases import www_aliases


def rule_candidates(
    ingress: Ingress, annotations: IngressAnnotations, diagnostics: list[Diagnostic]
) -> list[Candidate]:
    """A candidate per path of each rule (rules and paths the compiler cannot serve are findings),
    with the annotations' service-weights split and from-to-www aliases."""
    ns, name = ingress.meta.namespace, ingress.meta.name
    order = ingress_order(ingress)
    forced_type = annotations.path_type
    out: list[Candidate] = []
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
            if path[0] != "/":
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
            if forced_type is not None and path_type in (None, PathType.IMPLEMENTATION_SPECIFIC):
                path_type = forced_type
            out.append(
                Candidate(  # positional: keywords make this call three times as slow
                    ingress,
                    annotations,
                    f"{ns}/{name}#r{ri}p{pi}",
                    host,
                    kind,
                    path,
                    # v1beta1 without pathType: ImplementationSpecific, a plain string prefix.
                    path_type or PathType.IMPLEMENTATION_SPECIFIC,
                    (ingress_path.backend,),
                    ingress_path.location or rule.location,
                    (*order, ri, pi),
                )
            )
    if annotations.service_weights:
        out = merge_weighted(out, annotations.service_weights)
    if annotations.rewrites is not None and annotations.rewrites.www_redirect:
        out += www_aliases(out, annotations)
    return out


def default_candidate(
    ingress: Ingress, backend: IngressBackend, annotations: IngressAnnotations
) -> Candidate:
    """The candidate of the Ingress's defaultBackend."""
    return Candidate(
        ingress=ingress,
        annotations=annotations,
        route_id=f"{ingress.meta.namespace}/{ingress.meta.name}#default",
        host=None,
        host_kind=HostKind.ANY,
        path="",
        path_type=PathType.PREFIX,
        backends=(backend,),
        location=backend.location or ingress.meta.location,
        order=(*ingress_order(ingress), -1, -1),
    )
