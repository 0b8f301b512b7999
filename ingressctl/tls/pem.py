"""Parse and check a certificate/key pair before it is served: leaf + chain, any key type."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID


class CertificateError(ValueError):
    """A certificate/key pair that cannot be served; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    cert_pem: bytes = field(repr=False)  # leaf first, then the chain, normalised PEM
    key_pem: bytes = field(repr=False)
    names: tuple[str, ...]  # DNS SANs, lower case (the CN only when there is no SAN)
    common_name: str
    issuer: str
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str  # sha256 of the leaf (DER), hex

    @property
    def digest(self) -> str:
        """Identity of the pair (cert chain + key): equal pairs share one SSLContext."""
        return hashlib.sha256(self.cert_pem + b"\0" + self.key_pem).hexdigest()


def _common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)]


def parse_pair(cert_pem: bytes, key_pem: bytes) -> ParsedCertificate:
    """Check that `cert_pem` holds at least one certificate and `key_pem` its private key.

    Raises only CertificateError: cryptography parses extensions and public keys lazily, so a
    malformed one surfaces as a ValueError (or UnsupportedAlgorithm) long after loading.
    """
    try:
        return _parse_pair(cert_pem, key_pem)
    except CertificateError:
        raise
    except Exception as exc:
        raise CertificateError(f"the certificate cannot be read: {exc}") from None


def _parse_pair(cert_pem: bytes, key_pem: bytes) -> ParsedCertificate:
    if b"-----BEGIN" not in cert_pem:
        raise CertificateError("the certificate is not PEM (no -----BEGIN line)")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise CertificateError(f"the certificate PEM cannot be parsed: {exc}") from None
    if not chain:
        raise CertificateError("no CERTIFICATE block in the certificate PEM")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CertificateError("the private key is encrypted; give an unencrypted key") from None
    except ValueError as exc:
        raise CertificateError(f"the private key cannot be parsed: {exc}") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for odd key types
        raise CertificateError(f"the private key is not supported: {exc}") from None
    leaf = chain[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise CertificateError("the private key does not belong to the certificate (first in the PEM)")
    common_name = _common_name(leaf.subject)
    names = _dns_names(leaf)
    if not names and common_name:
        names = [common_name.lower().rstrip(".")]
    normalized_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ParsedCertificate(
        cert_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        key_pem=normalized_key,
        names=tuple(dict.fromkeys(names)),
        common_name=common_name,
        issuer=leaf.issuer.rfc4514_string(),
        serial=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )
