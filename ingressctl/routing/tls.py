"""TLS sections of an Ingress: certificates from Secrets and the certificate source of each host.

Only the PEM armor is checked here (this layer is pure and does no cryptography); the TLS store
parses the certificate and reports what it cannot load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingressctl.model import Diagnostic, Ingress, Secret, Severity, TLSCertificate, TLSSource
from ingressctl.routing import codes
from ingressctl.routing.hosts import validate_host, wildcard_suffix
from ingressctl.routing.report import finding

SecretLookup = Callable[[str, str], Secret | None]


@dataclass(slots=True)
class IngressTLSResult:
    """The certificates and TLS hosts of the served Ingresses, with their findings."""

    certificates: list[TLSCertificate] = field(default_factory=list)
    # (host pattern as listed, has a usable Secret)
    hosts: list[tuple[str, bool]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    # host pattern → "some section listing it has a usable Secret"; built on first lookup, after
    # every Ingress has added its hosts (a scan per route made compile quadratic in Ingresses).
    _index: dict[str, bool] | None = None

    def source_for(self, host: str | None, fallback: TLSSource) -> TLSSource | None:
        """SECRET, the fallback (ACME/DEFAULT), or None when no TLS section lists the host."""
        if host is None:
            return None
        index = self._index
        if index is None:
            index = {}
            for pattern, ok in self.hosts:
                index[pattern] = index.get(pattern, False) or ok
            self._index = index
        # None: no section lists the host; else whether one listing it (or its wildcard) has a Secret.
        covered = index.get(host)
        if not host.startswith("*."):
            suffix = wildcard_suffix(host)
            if suffix is not None:
                wildcard = index.get(f"*.{suffix}")
                if wildcard is not None:
                    covered = wildcard or bool(covered)
        if covered is None:
            return None
        return TLSSource.SECRET if covered else fallback


def pem_problem(secret: Secret) -> str:
    """What is wrong with a kubernetes.io/tls Secret's PEM armor ("" when nothing)."""
    return _pem_problem(secret)


def _pem_problem(secret: Secret) -> str:
    cert = secret.data.get("tls.crt")
    key = secret.data.get("tls.key")
    missing = [k for k, v in (("tls.crt", cert), ("tls.key", key)) if not v]
    if missing:
        return f"has no {' and no '.join(missing)}"
    assert cert is not None and key is not None
    if b"-----BEGIN CERTIFICATE-----" not in cert or b"-----END CERTIFICATE-----" not in cert:
        return "tls.crt is not a PEM certificate"
    if b"-----BEGIN " not in key or b"PRIVATE KEY-----" not in key:
        return "tls.key is not a PEM private key"
    return ""


def ingress_tls(
    ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool = True
) -> IngressTLSResult:
    """TLS hosts and certificates of one Ingress.

    secrets_in_input: False unless the input is declared complete (--require-services, a cluster): a
    manifests repository's Secrets often come from cert-manager or a vault, so a missing Secret is
    then information, not an error, whatever other Secrets the input holds.
    """
    result = IngressTLSResult()
    ns = ingress.meta.namespace
    for section in ingress.tls:
        hosts: list[str] = []
        for raw in section.hosts:
            host = raw.strip().lower()
            problem = validate_host(host)
            if problem:
                result.diagnostics.append(
                    finding(
                        codes.INVALID_HOST,
                        Severity.ERROR,
                        ingress,
                        f"spec.tls host: {problem}; left out",
                        "Write a DNS name or a `*.` wildcard, as in the rules.",
                        section.location,
                    )
                )
                continue
            hosts.append(host)
        # A TLS section without hosts covers the hosts of the Ingress's own rules.
        covered = tuple(hosts) if section.hosts else _rule_hosts(ingress)
        usable = False
        if section.secret_name:
            secret = lookup_secret(ns, section.secret_name)
            if secret is None:
                result.diagnostics.append(
                    finding(
                        codes.TLS_SECRET_MISSING,
                        Severity.ERROR if secrets_in_input else Severity.INFO,
                        ingress,
                        (
                            f"TLS Secret {ns}/{section.secret_name} does not exist; "
                            if secrets_in_input
                            else f"TLS Secret {ns}/{section.secret_name} is not part of the input; "
                        )
                        + f"{', '.join(covered) or 'its hosts'} fall back to ACME or the default certificate",
                        f"Create the kubernetes.io/tls Secret {section.secret_name} in namespace {ns}"
                        + ("." if secrets_in_input else " (--require-services makes this an error)."),
                        section.location,
                    )
                )
            elif problem := _pem_problem(secret):
                result.diagnostics.append(
                    finding(
                        codes.TLS_SECRET_MALFORMED,
                        Severity.ERROR,
                        ingress,
                        f"TLS Secret {ns}/{section.secret_name} {problem}; "
                        f"{', '.join(covered) or 'its hosts'} fall back to ACME or the default certificate",
                        "Recreate it with `kubectl create secret tls NAME --cert=FILE --key=FILE`.",
                        section.location,
                    )
                )
            else:
                usable = True
                result.certificates.append(
                    TLSCertificate(
                        hosts=covered,
                        secret=secret.ref,
                        cert_pem=secret.data["tls.crt"],
                        key_pem=secret.data["tls.key"],
                    )
                )
        result.hosts.extend([(host, usable) for host in covered])
    return result


def _rule_hosts(ingress: Ingress) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.host.lower() for r in ingress.rules if r.host))
