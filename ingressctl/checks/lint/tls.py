"""TLS sections: hosts without rules (IC303), rules without TLS (IC304), conflicting Secrets (IC306).

Missing or malformed TLS Secrets are compile findings (IC210/IC211), not repeated here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ingressctl.checks.context import HostPatterns, LintContext, host_matches
from ingressctl.model import Diagnostic, Ingress, IngressTLS, Location, ObjectRef, Severity


def check_tls_hosts_without_rule(ctx: LintContext) -> Iterator[Diagnostic]:
    for ingress in ctx.served_ingresses():
        # A host-less rule or a defaultBackend serves every host, so every TLS host is served.
        if ingress.default_backend is not None or any(rule.host is None for rule in ingress.rules):
            continue
        rule_hosts = [rule.host for rule in ingress.rules if rule.host]
        for index, tls in enumerate(ingress.tls):
            for host in tls.hosts:
                if host in rule_hosts:  # the usual case, which host_matches would also say
                    continue
                if any(host_matches(host, r) or host_matches(r, host) for r in rule_hosts):
                    continue
                yield Diagnostic(
                    code="IC303",
                    severity=Severity.WARNING,
                    message=(
                        f"{ingress.ref}: TLS host {host} is not the host of any rule of this Ingress; "
                        "no route serves it"
                    ),
                    location=tls.location or ingress.meta.location,
                    hint=f"add a rule for {host}, or remove it from spec.tls[{index}].hosts",
                    object=ingress.ref,
                )


def check_rule_hosts_without_tls(ctx: LintContext) -> Iterator[Diagnostic]:
    served = ctx.served_ingresses()
    # Certificates are chosen by SNI across Ingresses: TLS for a host in any Ingress covers it.
    all_tls_hosts = HostPatterns(host for ingress in served for tls in ingress.tls for host in tls.hosts)
    for ingress in served:
        own_tls_hosts = [host for tls in ingress.tls for host in tls.hosts]
        if not own_tls_hosts or any(not tls.hosts for tls in ingress.tls):
            continue
        for rule in ingress.rules:
            if rule.host is None or all_tls_hosts.covers(rule.host):
                continue
            yield Diagnostic(
                code="IC304",
                severity=Severity.WARNING,
                message=(
                    f"{ingress.ref}: host {rule.host} has no TLS section while {', '.join(own_tls_hosts)} "
                    "do; HTTPS requests for it get the default certificate"
                ),
                location=rule.host_location or rule.location or ingress.meta.location,
                hint=f"add {rule.host} to spec.tls[].hosts, or move this rule to an Ingress without TLS",
                object=ingress.ref,
            )


@dataclass(frozen=True, slots=True)
class _TLSClaim:
    """One host an Ingress's tls section claims, with the Secret for it."""

    host: str
    secret: ObjectRef
    ingress: Ingress
    tls: IngressTLS

    @property
    def location(self) -> Location | None:
        return self.tls.location or self.ingress.meta.location


def _claim_order(claim: _TLSClaim) -> tuple[str, str, str]:
    # The order the compiler uses for conflicts: oldest first, then namespace/name.
    meta = claim.ingress.meta
    return (meta.creation_timestamp or "~", meta.namespace, meta.name)


def check_conflicting_tls_secrets(ctx: LintContext) -> Iterator[Diagnostic]:
    claims: dict[str, list[_TLSClaim]] = {}
    for ingress in ctx.served_ingresses():
        for tls in ingress.tls:
            if not tls.secret_name:
                continue
            secret = ObjectRef("Secret", ingress.meta.namespace, tls.secret_name)
            for host in tls.hosts:
                claims.setdefault(host.lower().rstrip("."), []).append(_TLSClaim(host, secret, ingress, tls))
    for host, host_claims in sorted(claims.items()):
        secrets = {claim.secret for claim in host_claims}
        if len(secrets) < 2:
            continue
        ordered = sorted(host_claims, key=_claim_order)
        first = ordered[0]
        for claim in ordered[1:]:
            if claim.secret == first.secret:
                continue
            yield Diagnostic(
                code="IC306",
                severity=Severity.WARNING,
                message=(
                    f"{claim.ingress.ref}: TLS for {host} comes from Secret {claim.secret.namespace}/"
                    f"{claim.secret.name}, but {first.ingress.ref} gives Secret {first.secret.namespace}/"
                    f"{first.secret.name} for the same host; only one certificate can be served"
                ),
                location=claim.location,
                hint=f"use one Secret for {host} in every Ingress, or list the host in one tls section only",
                object=claim.ingress.ref,
                related=tuple(loc for loc in (first.location,) if loc is not None),
            )
