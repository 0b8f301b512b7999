"""Look at certificates: parse PEM/DER, fetch a live chain, verify it, and describe what a person needs.

Verification uses `cryptography.x509.verification` (the WebPKI rules browsers apply) against the system
trust store or a given CA bundle.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ingressctl.model import InputError

_ENCODING_DER = 2  # _ssl.ENCODING_DER: the private chain API takes the raw constant


def parse_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """All certificates in PEM (any number, leaf first) or a single DER certificate."""
    # cryptography warns on every load of a certificate with a non-positive serial (the system
    # store holds such old roots): a library's note to developers, not output for the user.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _parse_certificates(data, source)


def _parse_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise InputError(f"{source}: a PEM block is not a valid certificate: {exc}") from None
        if certs:
            return certs
        raise InputError(f"{source}: no CERTIFICATE block found")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InputError(f"{source}: neither a PEM nor a DER certificate") from None


def load_trust(ca_bundle: str | None) -> list[x509.Certificate]:
    """Trust anchors: the given bundle, else the system store (OpenSSL's default CA file)."""
    path = ca_bundle or ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the CA bundle: {exc.strerror or exc}") from None
    return parse_certificates(data, path)


def fetch_chain(
    host: str, port: int, server_name: str | None, timeout: float = 10.0
) -> list[x509.Certificate]:
    """The chain a live server sends (unverified here: verification is reported, not enforced)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=server_name or None) as tls,
        ):
            # Python 3.13 makes this public; 3.11/3.12 have it on the underlying object.
            sslobj: Any = getattr(tls, "_sslobj", tls)
            chain = sslobj.get_unverified_chain() if hasattr(sslobj, "get_unverified_chain") else None
            if chain:
                return [x509.load_der_x509_certificate(c.public_bytes(_ENCODING_DER)) for c in chain]
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"{host}:{port}: TLS connection failed: {exc}") from None
    if not der:
        raise InputError(f"{host}:{port}: the server sent no certificate")
    return [x509.load_der_x509_certificate(der)]


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in ext.value.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)
    ]


def key_description(cert: x509.Certificate) -> tuple[str, int]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


def ca_kind(chain: Sequence[x509.Certificate]) -> str:
    """staging | pebble | letsencrypt | other, judged by the issuer names in the chain."""
    names = " ".join(c.issuer.rfc4514_string() for c in chain)
    if "(STAGING)" in names or "Fake LE" in names:
        return "staging"
    if "Pebble" in names:
        return "pebble"
    if "Let's Encrypt" in names or "Let\\'s Encrypt" in names or "ISRG" in names:
        return "letsencrypt"
    return "other"


def key_matches(cert: x509.Certificate, key_pem: bytes) -> bool:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return False
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(key.public_key().public_bytes(enc, pub) == cert.public_key().public_bytes(enc, pub))


@dataclass(slots=True)
class ChainVerdict:
    verified: bool
    error: str = ""
    name: str = ""  # the name it was verified for


def verify_chain(
    chain: Sequence[x509.Certificate],
    trust: Sequence[x509.Certificate],
    server_name: str | None = None,
    now: datetime.datetime | None = None,
) -> ChainVerdict:
    leaf, intermediates = chain[0], list(chain[1:])
    names = dns_names(leaf)
    name = server_name or (names[0] if names else "")
    if not name:
        return ChainVerdict(False, "the certificate names no DNS name to verify against")
    if not trust:
        return ChainVerdict(False, "no trust anchors", name)
    builder = PolicyBuilder().store(Store(list(trust)))
    if now is not None:
        builder = builder.time(now)
    try:
        subject: x509.DNSName | x509.IPAddress
        try:
            subject = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            subject = x509.DNSName(name.lstrip("*."))
            if name.startswith("*."):
                subject = x509.DNSName("wildcard-check." + name[2:])
        builder.build_server_verifier(subject).verify(leaf, intermediates)
    except VerificationError as exc:
        return ChainVerdict(False, str(exc), name)
    except ValueError as exc:
        return ChainVerdict(False, f"cannot verify: {exc}", name)
    return ChainVerdict(True, "", name)


@dataclass(slots=True)
class CertificateReport:
    source: str
    subject: str
    sans: list[str]
    issuer: str
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    days_left: float
    key_type: str
    key_size: int
    ca: str
    chain: list[dict[str, str]]
    verified: bool | None
    verify_error: str = ""
    verified_for: str = ""
    server_auth: bool = True
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "subject": self.subject,
            "sans": self.sans,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": round(self.days_left, 2),
            "key": {"type": self.key_type, "size": self.key_size},
            "ca": self.ca,
            "staging": self.ca in ("staging", "pebble"),
            "chain": self.chain,
            "verified": self.verified,
            "verify_error": self.verify_error,
            "verified_for": self.verified_for,
            "warnings": self.warnings,
        }


def describe(
    chain: Sequence[x509.Certificate],
    source: str,
    *,
    trust: Sequence[x509.Certificate] | None,
    server_name: str | None = None,
    now: datetime.datetime | None = None,
) -> CertificateReport:
    """Everything a person checks about a certificate chain (leaf first)."""
    now = now or datetime.datetime.now(datetime.UTC)
    leaf = chain[0]
    key_type, key_size = key_description(leaf)
    days_left = (leaf.not_valid_after_utc - now).total_seconds() / 86400
    verdict = verify_chain(chain, trust, server_name, now) if trust is not None else None
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        server_auth = ExtendedKeyUsageOID.SERVER_AUTH in eku
    except x509.ExtensionNotFound:
        server_auth = True
    report = CertificateReport(
        source=source,
        subject=leaf.subject.rfc4514_string(),
        sans=dns_names(leaf),
        issuer=_cn(leaf.issuer),
        serial=f"{leaf.serial_number:x}",
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        days_left=days_left,
        key_type=key_type,
        key_size=key_size,
        ca=ca_kind(chain),
        chain=[{"subject": _cn(c.subject), "issuer": _cn(c.issuer)} for c in chain],
        verified=verdict.verified if verdict else None,
        verify_error=verdict.error if verdict else "",
        verified_for=verdict.name if verdict else "",
        server_auth=server_auth,
    )
    if days_left < 0:
        report.warnings.append(f"expired {-days_left:.1f} days ago")
    elif leaf.not_valid_before_utc > now:
        report.warnings.append("not valid yet")
    if report.ca in ("staging", "pebble"):
        report.warnings.append(f"issued by a test CA ({report.ca}); browsers will not trust it")
    if not server_auth:
        report.warnings.append("no serverAuth extended key usage: not usable for HTTPS")
    return report
