"""The self-signed builder shared by the default certificate and the ACME TLS-ALPN-01 certificate."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ingressctl.tls.selfsigned import (
    CLOCK_SKEW,
    DEFAULT_COMMON_NAME,
    DEFAULT_SAN,
    generate_default_certificate,
    self_signed_certificate,
)

NOW = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def _load(pair: tuple[bytes, bytes]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair[0])
    key = serialization.load_pem_private_key(pair[1], password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def test_builder_names_validity_and_extra_extensions() -> None:
    marker = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x04\x01\x2a")
    cert, key = _load(
        self_signed_certificate(
            "a test",
            ["a.example.test", "b.example.test"],
            datetime.timedelta(days=2),
            extensions=((marker, True),),
            now=NOW,
        )
    )
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a test"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["a.example.test", "b.example.test"]
    assert cert.not_valid_before_utc == NOW - CLOCK_SKEW
    assert cert.not_valid_after_utc == NOW + datetime.timedelta(days=2)
    extra = cert.extensions.get_extension_for_oid(marker.oid)
    assert extra.critical and extra.value.value == b"\x04\x01\x2a"
    # The key is the certificate's own, and the signature is by that key (self-signed).
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    cert.verify_directly_issued_by(cert)


def test_each_call_makes_a_new_key_and_serial() -> None:
    first, _ = _load(self_signed_certificate("x", ["x.test"], datetime.timedelta(days=1)))
    second, _ = _load(self_signed_certificate("x", ["x.test"], datetime.timedelta(days=1)))
    assert first.serial_number != second.serial_number
    assert first.public_key().public_numbers() != second.public_key().public_numbers()  # type: ignore[union-attr]


def test_default_certificate_is_a_one_year_server_certificate() -> None:
    cert, _ = _load(generate_default_certificate(now=NOW))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == DEFAULT_COMMON_NAME
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == [DEFAULT_SAN]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365) + CLOCK_SKEW
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
