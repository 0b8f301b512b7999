"""Why a certificate/key pair cannot be served, in words that name the part at fault.

cryptography's messages are Rust debug output (`ParseError { kind: UnexpectedTag { ... } }`): each
way a Secret's tls.crt or tls.key can be wrong gets its own sentence instead.
"""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ingressctl.tls.pem import CertificateError, brief, parse_pair
from tests.tls.conftest import CA


def _pem(label: str, der: bytes) -> bytes:
    return f"-----BEGIN {label}-----\n{base64.b64encode(der).decode()}\n-----END {label}-----\n".encode()


def _error(cert: bytes, key: bytes) -> str:
    with pytest.raises(CertificateError) as raised:
        parse_pair(cert, key, cert_name="tls.crt", key_name="tls.key")
    return str(raised.value)


def test_each_broken_certificate_gets_a_sentence(ca: CA) -> None:
    cert, key = ca.issue(["app.example.test"])
    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    cases = {
        _pem(
            "CERTIFICATE", b"\x00\x01 not DER"
        ): "tls.crt is not a PEM certificate (the DER inside cannot be parsed)",
        b"-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n": (
            "tls.crt is not valid PEM (the base64 between the BEGIN and END lines is damaged)"
        ),
        cert[
            :200
        ]: "tls.crt is not valid PEM (a -----BEGIN line without its matching -----END line: truncated?)",
        b"hello": "tls.crt is not PEM (no -----BEGIN line)",
        b"": "tls.crt is not PEM (no -----BEGIN line)",
        der: "tls.crt is DER (binary), not PEM: convert it with openssl x509 -inform der",
        key: "tls.crt holds no certificate, only a PRIVATE KEY block: is it the key?",
        cert + _pem("CERTIFICATE", b"\x00junk"): (
            "certificate 2 in tls.crt is not a PEM certificate (the DER inside cannot be parsed)"
        ),
    }
    for broken, expected in cases.items():
        message = _error(broken, key)
        assert message == expected
        assert "{" not in message and "ParseError" not in message


def test_each_broken_key_gets_a_sentence(ca: CA) -> None:
    cert, key = ca.issue(["app.example.test"])
    _, other = ca.issue(["other.example.test"])
    private = serialization.load_pem_private_key(key, None)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    cases = {
        other: "tls.key does not belong to the certificate in tls.crt",
        encrypted: (
            "tls.key is encrypted: give the key without a passphrase (openssl pkey -in KEY -out PLAIN)"
        ),
        b"nope": "tls.key is not PEM (no -----BEGIN line)",
        key[
            :100
        ]: "tls.key is not valid PEM (a -----BEGIN line without its matching -----END line: truncated?)",
        cert: "tls.key holds no private key, only a CERTIFICATE block: is it the certificate?",
        _pem("PRIVATE KEY", b"\x00\x01 not DER"): (
            "tls.key is not a PEM private key "
            "(the DER inside cannot be parsed, or its key type is not supported)"
        ),
    }
    for broken, expected in cases.items():
        assert _error(cert, broken) == expected


def test_a_chain_in_the_wrong_order_is_named(ca: CA) -> None:
    intermediate = ca.intermediate()
    chain, key = intermediate.issue(["app.example.test"])
    leaf, rest = chain.split(b"-----END CERTIFICATE-----\n", 1)
    reversed_chain = rest + leaf + b"-----END CERTIFICATE-----\n"
    assert _error(reversed_chain, key) == (
        "tls.key belongs to certificate 2 in tls.crt, not the first: put the server's certificate first, "
        "then its chain"
    )
    _, other = ca.issue(["other.example.test"])
    assert (
        _error(chain, other) == "tls.key does not belong to the certificate in tls.crt (the first one there)"
    )


def test_brief_keeps_the_first_words_of_a_library_message() -> None:
    rust = ValueError(
        "error parsing asn1 value: ParseError { kind: UnexpectedTag { actual: Tag { value: 0 } } }"
    )
    assert brief(rust) == "error parsing asn1 value"
    faq = ValueError("Unable to load PEM file. See https://cryptography.io/en/latest/faq/ for more details.")
    assert brief(faq) == "Unable to load PEM file"
    assert brief(ValueError("x" * 200)) == "x" * 79 + "…"
