"""TLS towards backends: one client SSLContext per distinct set of settings (model.BackendTLS).

Contexts are built once and kept (a handshake reuses the context, and with it the session cache);
a client certificate is loaded from a private temporary file because `ssl` reads chains from files only.
"""

from __future__ import annotations

import os
import ssl
import tempfile

from ingressctl.model.upstream_protocol import BackendTLS

# ALPN offered by scheme: https lets the backend choose HTTP/2 (RFC 7301); h2 requires it.
ALPN: dict[str, list[str]] = {"https": ["h2", "http/1.1"], "h2": ["h2"]}


class TLSContexts:
    """The client contexts of one pool, by settings and scheme."""

    def __init__(self, alpn: dict[str, list[str]] | None = None) -> None:
        self._contexts: dict[tuple[BackendTLS, str], ssl.SSLContext] = {}
        self._alpn = ALPN if alpn is None else alpn

    def context(self, tls: BackendTLS, scheme: str) -> ssl.SSLContext:
        key = (tls, scheme)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = client_context(tls, self._alpn.get(scheme, ["http/1.1"]))
        return ctx


def client_context(tls: BackendTLS, alpn: list[str]) -> ssl.SSLContext:
    """A client context verifying (or, opted out, not verifying) the backend as `tls` says."""
    if tls.ca_pem:
        ctx = ssl.create_default_context(cadata=tls.ca_pem.decode("ascii", "replace"))
    else:
        ctx = ssl.create_default_context()
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.client_cert_pem:
        fd, path = tempfile.mkstemp(prefix="ingressctl-client-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(tls.client_cert_pem.rstrip() + b"\n" + tls.client_key_pem)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
    ctx.set_alpn_protocols(alpn)
    return ctx
