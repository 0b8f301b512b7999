"""ingressctl.tls.inspect on certificates made with cryptography: formats, trust, names, key and CA kind."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ingressctl.model import InputError
from ingressctl.tls.inspect import ca_kind, describe, key_matches, parse_certificates
from tests.certificates import name, pem_key

NOW = datetime.datetime.now(datetime.UTC)


def _pki(names: list[str], key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, root_cn: str = "Test Root"):  # type: ignore[no-untyped-def]
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name(root_cn))
        .issuer_name(name(root_cn))
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(names[0]))
        .issuer_name(name(root_cn))
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return root, leaf


def test_der_and_pem_parse_alike() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    _, leaf = _pki(["a.example.test"], key)
    der = leaf.public_bytes(serialization.Encoding.DER)
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    assert parse_certificates(der, "x.der") == parse_certificates(pem, "x.pem") == [leaf]
    with pytest.raises(InputError, match="neither a PEM nor a DER"):
        parse_certificates(b"hello", "junk")


def test_rsa_wildcard_verified_against_its_root_only() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root, leaf = _pki(["*.example.test"], key)
    report = describe([leaf], "w", trust=[root], server_name="shop.example.test")
    assert report.verified and report.key_type == "RSA" and report.key_size == 2048
    assert 9.9 < report.days_left < 10.1
    assert report.sans == ["*.example.test"]
    assert describe([leaf], "w", trust=[root]).verified  # the wildcard itself, without a server name
    other_root, _ = _pki(["x.test"], key)
    denied = describe([leaf], "w", trust=[other_root], server_name="shop.example.test")
    assert denied.verified is False and denied.verify_error
    wrong_name = describe([leaf], "w", trust=[root], server_name="a.b.example.test")
    assert wrong_name.verified is False


def test_key_matching() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _, leaf = _pki(["a.example.test"], key)
    pem = pem_key(key)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert key_matches(leaf, pem) and not key_matches(leaf, other) and not key_matches(leaf, b"garbage")


@pytest.mark.parametrize(
    ("issuer", "kind"),
    [
        ("(STAGING) Pretend Pear X1", "staging"),
        ("Pebble Intermediate CA 1a2b3c", "pebble"),
        ("ISRG Root X1", "letsencrypt"),
        ("Some Corp CA", "other"),
    ],
)
def test_ca_kind_from_issuer_names(issuer: str, kind: str) -> None:
    _, leaf = _pki(["a.example.test"], ec.generate_private_key(ec.SECP256R1()), root_cn=issuer)
    assert ca_kind([leaf]) == kind
