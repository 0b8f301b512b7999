"""Test certificates made with cryptography at test time (no committed key material)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def name(common_name: str) -> x509.Name:
    """An X.509 name holding only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def pem_key(key: PrivateKey) -> bytes:
    """The unencrypted PKCS#8 PEM of `key`."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed(
    common_name: str,
    *,
    names: Sequence[str] = (),
    key: PrivateKey | None = None,
    days: float = 30,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    serial: int | None = None,
    issuer: str | None = None,
) -> tuple[bytes, bytes]:
    """(certificate PEM, PKCS#8 key PEM) of a certificate signed by its own key (P-256 unless `key`).

    Valid from `not_before` (default: five minutes ago) to `not_after` (default: `days` from now);
    `names` go into a DNS SubjectAlternativeName (none if empty), then `extensions` as
    (extension, critical) pairs. The issuer is the subject unless `issuer` names another CN.
    """
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(name(issuer) if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() if serial is None else serial)
        .not_valid_before(now - datetime.timedelta(minutes=5) if not_before is None else not_before)
        .not_valid_after(now + datetime.timedelta(days=days) if not_after is None else not_after)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM), pem_key(key)
