"""How the proxy talks to a backend: its protocol and, over TLS, how the backend is verified.

The scheme lives on `RouteBackend.scheme` (one of `BACKEND_SCHEMES`); `RouteBackend.tls` carries
the TLS settings of the `https` and `h2` schemes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# http: HTTP/1.1 over TCP. https: TLS, HTTP/2 when the backend selects h2 by ALPN, else HTTP/1.1.
# h2c: HTTP/2 over TCP with prior knowledge (RFC 9113 3.3). h2: TLS with HTTP/2 required (gRPC over TLS).
BACKEND_SCHEMES: Final = ("http", "https", "h2c", "h2")
TLS_SCHEMES: Final = frozenset({"https", "h2"})
HTTP2_SCHEMES: Final = frozenset({"h2c", "h2"})


@dataclass(frozen=True, slots=True)
class BackendTLS:
    """TLS towards a backend. Verification is on unless an annotation turns it off."""

    verify: bool = True
    # PEM CA certificates the backend's chain must lead to; empty: the system's CAs.
    ca_pem: bytes = field(default=b"", repr=False)
    # The name sent as SNI and checked against the certificate.
    server_name: str = ""
    # A client certificate for backends that ask for one (ingress-nginx proxy-ssl-secret).
    client_cert_pem: bytes = field(default=b"", repr=False)
    client_key_pem: bytes = field(default=b"", repr=False)
    # Where the settings came from, for routes/--explain ("Secret ns/name", annotation names).
    source: str = ""

    def describe(self) -> str:
        parts = [f"verify against {'the CA of ' + self.source if self.ca_pem else 'system CAs'}"]
        if not self.verify:
            parts = ["certificate NOT verified (insecureSkipVerify)"]
        if self.server_name:
            parts.append(f"SNI {self.server_name}")
        if self.client_cert_pem:
            parts.append("client certificate")
        return ", ".join(parts)
