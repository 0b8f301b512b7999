"""Server-side SSLContexts: one per certificate, and one base context per TLS entrypoint."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from ingressctl.security.tls_profile import cipher_string
from ingressctl.tls.pem import CertificateError, ParsedCertificate

ALPN_HTTP1 = "http/1.1"
# What a TLS entrypoint offers unless its [http2] says enabled = false: HTTP/2 first, as every browser
# and gRPC client prefers it.
ALPN_DEFAULT: tuple[str, ...] = ("h2", ALPN_HTTP1)
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class DirectSSLObject(ssl.SSLObject):
    """An SSLObject whose read, write and pending are the C methods themselves.

    The event loop's SSL transport (uvloop's and asyncio's) calls these three for every TLS record;
    ssl.SSLObject's versions are Python methods that only pass their arguments on to the same C
    methods, one interpreter frame each per call (three per small request). Binding the C methods on
    the instance skips those frames; the arguments and results are the same.
    """

    @classmethod
    def _create(cls, *args: object, **kwargs: object) -> DirectSSLObject:
        created: DirectSSLObject = super()._create(*args, **kwargs)  # type: ignore[misc]
        inner = created._sslobj  # type: ignore[attr-defined]
        created.read = inner.read  # type: ignore[method-assign]
        created.write = inner.write  # type: ignore[method-assign]
        created.pending = inner.pending  # type: ignore[method-assign]
        return created


def server_context(
    min_version: str = "1.2", ciphers: tuple[str, ...] = (), alpn: tuple[str, ...] = ALPN_DEFAULT
) -> ssl.SSLContext:
    """A server context with the TLS profile of ingressctl/tls/profile.py: TLS 1.2+, and for TLS 1.2
    Mozilla's intermediate suites (or `ciphers`, OpenSSL names); TLS 1.3 keeps OpenSSL's suites."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS.get(min_version, ssl.TLSVersion.TLSv1_2)
    # Python's default list still allows CBC suites with SHA-1 MACs and RSA key exchange.
    ctx.set_ciphers(cipher_string(ciphers))
    # Renegotiation is a DoS lever and no HTTP/1.1 client needs it.
    ctx.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_alpn_protocols(list(alpn))
    ctx.sslobject_class = DirectSSLObject
    return ctx


def load_into(ctx: ssl.SSLContext, cert: ParsedCertificate) -> None:
    """Load the pair into `ctx`. The ssl module reads only files: the key lives for the duration of
    this call in a private (0700) temporary directory."""
    with tempfile.TemporaryDirectory(prefix="ingressctl-tls-") as tmp:
        path = Path(tmp) / "pair.pem"
        path.touch(mode=0o600)
        path.write_bytes(cert.key_pem + cert.cert_pem)
        try:
            ctx.load_cert_chain(str(path))
        except ssl.SSLError as exc:
            raise CertificateError(f"OpenSSL refused the certificate: {exc.reason or exc}") from None


def certificate_context(cert: ParsedCertificate) -> ssl.SSLContext:
    ctx = server_context()
    load_into(ctx, cert)
    return ctx
