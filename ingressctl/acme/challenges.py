"""Pending challenges and their answers, shared by the standalone responder and the manager.

HTTP-01 answers `/.well-known/acme-challenge/TOKEN` with the key authorization. TLS-ALPN-01 (RFC 8737)
answers a handshake for the name, with ALPN `acme-tls/1`, using a self-signed certificate that carries
the critical acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31) = OCTET STRING(sha256(key authorization)).
The `acme` library dropped its helper for that certificate, so it is built here with `cryptography`.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HTTP01_PREFIX = "/.well-known/acme-challenge/"
ACME_TLS_ALPN = "acme-tls/1"
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")


def tls_alpn_certificate(domain: str, key_authorization: str) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) of the RFC 8737 challenge certificate for `domain`."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingressctl ACME TLS-ALPN-01 challenge")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        # DER OCTET STRING of 32 bytes: tag 0x04, length 0x20, then the digest.
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _context_from_pem(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols([ACME_TLS_ALPN])
    # ssl only loads certificates from files; the file lives for microseconds in a private temp dir.
    with tempfile.TemporaryDirectory(prefix="ingressctl-alpn-") as tmp:
        path = Path(tmp) / "challenge.pem"
        path.write_bytes(key_pem + cert_pem)
        ctx.load_cert_chain(str(path))
    return ctx


class ChallengeStore:
    """Thread-safe: the acme flow runs in worker threads, the answers are read by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._http01: dict[str, str] = {}
        self._alpn: dict[str, ssl.SSLContext] = {}

    def add_http01(self, token: str, key_authorization: str) -> None:
        with self._lock:
            self._http01[token] = key_authorization

    def remove_http01(self, token: str) -> None:
        with self._lock:
            self._http01.pop(token, None)

    def add_tls_alpn01(self, domain: str, key_authorization: str) -> None:
        ctx = _context_from_pem(*tls_alpn_certificate(domain, key_authorization))
        with self._lock:
            self._alpn[domain.lower()] = ctx

    def remove_tls_alpn01(self, domain: str) -> None:
        with self._lock:
            self._alpn.pop(domain.lower(), None)

    def http01_response(self, path: str) -> str | None:
        """The key authorization for a request path, or None when it is not a pending challenge."""
        if not path.startswith(HTTP01_PREFIX):
            return None
        token = path[len(HTTP01_PREFIX) :]
        with self._lock:
            return self._http01.get(token)

    def tls_alpn_context(self, server_name: str | None) -> ssl.SSLContext | None:
        if not server_name:
            return None
        with self._lock:
            return self._alpn.get(server_name.lower().rstrip("."))

    def pending(self) -> int:
        with self._lock:
            return len(self._http01) + len(self._alpn)
