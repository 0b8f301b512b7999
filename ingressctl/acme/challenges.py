"""Pending challenges and their answers, shared by the standalone responder and the manager.

HTTP-01 answers `/.well-known/acme-challenge/TOKEN` with the key authorization. TLS-ALPN-01 (RFC 8737)
answers a handshake for the name, with ALPN `acme-tls/1`, using a self-signed certificate that carries
the critical acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31) = OCTET STRING(sha256(key authorization)).
The `acme` library dropped its helper for that certificate: it is built on `tls.selfsigned`'s builder,
with the extension added here.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509

from ingressctl.security.tls_profile import cipher_string
from ingressctl.tls.selfsigned import self_signed_certificate

HTTP01_PREFIX = "/.well-known/acme-challenge/"
ACME_TLS_ALPN = "acme-tls/1"
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")


def tls_alpn_certificate(domain: str, key_authorization: str) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) of the RFC 8737 challenge certificate for `domain`."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    # DER OCTET STRING of 32 bytes: tag 0x04, length 0x20, then the digest.
    identifier = x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest)
    return self_signed_certificate(
        "ingressctl ACME TLS-ALPN-01 challenge",
        [domain],
        datetime.timedelta(days=7),
        extensions=((identifier, True),),
    )


def _context_from_pem(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # Swapped into entrypoint connections by the SNI callback: the same suites as every certificate.
    ctx.set_ciphers(cipher_string())
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
