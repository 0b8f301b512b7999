"""IC309: the certificate in a TLS Secret cannot serve the hosts that name it.

The compiler checks only the PEM armor (it is pure and parses nothing); this parses the
certificate and key the way the TLS store will, so CI learns about an expired, mismatched or
wrong-host certificate before the proxy serves it. Expiry needs a clock: without `now` it is
not checked.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.checks.context import LintContext, host_matches
from ingressctl.model import Diagnostic, Ingress, IngressTLS, ObjectRef, Secret, Severity

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported when a TLS Secret is parsed: importing it costs `validate` ~60 ms, and
# most inputs hold no certificate.

EXPIRY_NOTICE = datetime.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A TLS Secret's certificate, or why it cannot be read."""

    certificate: x509.Certificate | None
    problems: tuple[str, ...]


def _names(certificate: x509.Certificate) -> list[str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if names:
        return [name.lower() for name in names]
    # Clients ignore the CN when a SAN is present; only without one is the CN a name.
    return [str(a.value).lower() for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _public_der(key: object) -> bytes | None:
    from cryptography.hazmat.primitives import serialization

    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        return None
    der = public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der if isinstance(der, bytes) else None


def _parse(secret: Secret) -> _Parsed | None:
    cert_pem, key_pem = secret.data.get("tls.crt"), secret.data.get("tls.key")
    if not cert_pem or not key_pem or b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        return None  # missing or not PEM: the compiler's finding (IC211)
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        return _Parsed(None, (f"tls.crt cannot be parsed ({exc})",))
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        return _Parsed(
            certificate, ("tls.key is encrypted; the proxy cannot use a key that needs a password",)
        )
    except ValueError as exc:
        return _Parsed(certificate, (f"tls.key cannot be parsed ({exc})",))
    except UnsupportedAlgorithm as exc:
        return _Parsed(certificate, (f"tls.key uses an unsupported algorithm ({exc})",))
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        return _Parsed(certificate, ("tls.key does not belong to the certificate in tls.crt",))
    return _Parsed(certificate, ())


def _expiry(certificate: x509.Certificate, now: datetime.datetime) -> tuple[Severity, str] | None:
    not_after = certificate.not_valid_after_utc
    not_before = certificate.not_valid_before_utc
    if now > not_after:
        return Severity.ERROR, f"the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
    if now < not_before:
        return Severity.WARNING, f"the certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if not_after - now < EXPIRY_NOTICE:
        days = (not_after - now).days
        return Severity.INFO, f"the certificate expires in {days} days ({not_after:%Y-%m-%d} UTC)"
    return None


def _findings(
    ingress: Ingress, tls: IngressTLS, ref: ObjectRef, parsed: _Parsed, now: datetime.datetime | None
) -> Iterator[tuple[Severity, str, str]]:
    for problem in parsed.problems:
        yield Severity.ERROR, problem, "replace the Secret with a matching certificate and unencrypted key"
    certificate = parsed.certificate
    if certificate is None:
        return
    if now is not None:
        expiry = _expiry(certificate, now)
        if expiry is not None:
            yield expiry[0], expiry[1], "renew the certificate and update the Secret"
    names = _names(certificate)
    hosts = tls.hosts or tuple(rule.host for rule in ingress.rules if rule.host)
    for host in hosts:
        if not any(host_matches(host, name) for name in names):
            yield (
                Severity.WARNING,
                f"the certificate does not cover {host} (it names {', '.join(names) or 'no host'})",
                f"issue a certificate that includes {host}, or use another Secret for it",
            )


def check_tls_certificates(ctx: LintContext) -> Iterator[Diagnostic]:
    secrets = {secret.ref: secret for secret in ctx.snapshot.secrets}
    cache: dict[ObjectRef, _Parsed | None] = {}
    for ingress in ctx.served_ingresses():
        for tls in ingress.tls:
            if not tls.secret_name:
                continue
            ref = ObjectRef("Secret", ingress.meta.namespace, tls.secret_name)
            secret = secrets.get(ref)
            if secret is None:
                continue
            if ref not in cache:
                cache[ref] = _parse(secret)
            parsed = cache[ref]
            if parsed is None:
                continue
            for severity, problem, hint in _findings(ingress, tls, ref, parsed, ctx.now):
                yield Diagnostic(
                    code="IC309",
                    severity=severity,
                    message=f"{ingress.ref}: TLS Secret {ref.namespace}/{ref.name}: {problem}",
                    location=tls.location or ingress.meta.location,
                    hint=hint,
                    object=ingress.ref,
                    related=(secret.meta.location,) if secret.meta.location else (),
                )
