"""Build acme.json files of every Traefik layout at test time (no committed keys)."""

from __future__ import annotations

import base64
import datetime
import json
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.certificates import name

ACCOUNT_URI = "https://127.0.0.1:14000/my-account/1"


def make_chain(
    names: list[str],
    *,
    days: float = 90,
    issuer: str = "Test Intermediate",
    key_format: str = "pkcs8",
) -> tuple[bytes, bytes]:
    """(fullchain PEM: leaf + issuer, key PEM) with the given issuer CN and remaining validity."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(issuer)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now + datetime.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(names[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=max(1.0, 90 - days)))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    fmt = (
        serialization.PrivateFormat.PKCS8
        if key_format == "pkcs8"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    pem = serialization.Encoding.PEM
    return leaf.public_bytes(pem) + ca.public_bytes(pem), key_pem


_ACCOUNT_KEY: bytes | None = None


def account_der() -> bytes:
    global _ACCOUNT_KEY
    if _ACCOUNT_KEY is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _ACCOUNT_KEY = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    return _ACCOUNT_KEY


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def registration() -> dict[str, Any]:
    return {"body": {"status": "valid", "contact": ["mailto:ops@example.test"]}, "uri": ACCOUNT_URI}


Entry = tuple[str, list[str], bytes, bytes]  # main, sans, fullchain, key


def v1_file(entries: list[Entry]) -> dict[str, Any]:
    return {
        "Email": "ops@example.test",
        "Registration": {**registration(), "new_authzr_uri": "", "terms_of_service": ""},
        "PrivateKey": b64(account_der()),
        "DomainsCertificate": {
            "Certs": [
                {
                    "Domains": {"Main": main, "SANs": sans or None},
                    "Certificate": {
                        "Domain": main,
                        "CertURL": "https://127.0.0.1:14000/cert/x",
                        "CertStableURL": "",
                        "PrivateKey": b64(key),
                        "Certificate": b64(chain),
                    },
                }
                for main, sans, chain, key in entries
            ]
        },
        "ChallengeCerts": {},
        "HTTPChallenge": {},
    }


def v17_file(entries: list[Entry]) -> dict[str, Any]:
    return {
        "Account": {
            "Email": "ops@example.test",
            "Registration": registration(),
            "PrivateKey": b64(account_der()),
            "KeyType": "4096",
        },
        "Certificates": [
            {"Domain": {"Main": main, "SANs": sans or None}, "Certificate": b64(chain), "Key": b64(key)}
            for main, sans, chain, key in entries
        ],
        "HTTPChallenges": {},
        "TLSChallenges": {},
    }


def v2_resolver(entries: list[Entry], *, key_type: bool = False) -> dict[str, Any]:
    account: dict[str, Any] = {
        "Email": "ops@example.test",
        "Registration": registration(),
        "PrivateKey": b64(account_der()),
    }
    if key_type:
        account["KeyType"] = "4096"
    certs = []
    for main, sans, chain, key in entries:
        domain: dict[str, Any] = {"main": main}
        if sans:
            domain["sans"] = sans
        certs.append({"domain": domain, "certificate": b64(chain), "key": b64(key), "Store": "default"})
    return {"Account": account, "Certificates": certs}


def write(path: Path, doc: dict[str, Any], mode: int = 0o600) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    os.chmod(path, mode)
    return path
