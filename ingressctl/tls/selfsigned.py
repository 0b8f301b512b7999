"""Self-signed certificates: the default certificate (served when no other fits) and the builder it
shares with the ACME TLS-ALPN-01 challenge certificate."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_COMMON_NAME = "ingressctl default certificate"
DEFAULT_SAN = "ingressctl.default"
# Backdated so that a peer whose clock runs a little behind does not see "not yet valid".
CLOCK_SKEW = datetime.timedelta(minutes=5)


def self_signed_certificate(
    common_name: str,
    dns_names: Sequence[str],
    valid_for: datetime.timedelta,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    now: datetime.datetime | None = None,
) -> tuple[bytes, bytes]:
    """(certificate PEM, PKCS#8 key PEM) of a fresh EC P-256 key, subject = issuer = `common_name`.

    `dns_names` become the subjectAltName; `extensions` are (extension, critical) pairs added after it.
    Valid from CLOCK_SKEW ago until `valid_for` from now.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def generate_default_certificate(now: datetime.datetime | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, PKCS#8 key PEM) of the default certificate: valid one year, server auth only."""
    return self_signed_certificate(
        DEFAULT_COMMON_NAME,
        [DEFAULT_SAN],
        datetime.timedelta(days=365),
        extensions=(
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ),
        now=now,
    )
