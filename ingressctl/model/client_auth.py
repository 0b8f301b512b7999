"""Client certificates asked for per host (ingress-nginx auth-tls-* annotations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Set on a connection's ssl.SSLObject by the SNI callback: the `ca_id` its handshake verified
# client certificates against (absent: none asked for by host).
HANDSHAKE_CA_ATTR: Final = "ingressctl_client_ca"


@dataclass(frozen=True, slots=True)
class ClientAuth:
    """A route's client certificate requirement: the handshake of its host asks for a certificate
    chaining to `ca_pem`; the route checks one was presented (`required`) and was verified for it."""

    ca_pem: bytes = field(repr=False)
    required: bool = True  # auth-tls-verify-client on; False: optional
    # ingress-nginx auth-tls-verify-depth (OpenSSL's count): at most `depth` CAs between the client
    # certificate and the root, i.e. its issuer at most depth + 1 levels below a root of the Secret.
    depth: int = 1
    # Subjects (RFC 4514 strings) of the CAs: the client certificate's issuer is one of them.
    ca_subjects: tuple[str, ...] = ()
    # (subject, level) of the CAs whose chain up to a self-signed root is in the Secret: 1 for a root,
    # 2 for a CA the root issued, ... Empty: every CA of ca_subjects counts as a root.
    ca_levels: tuple[tuple[str, int], ...] = ()
    error_page: str = ""  # auth-tls-error-page: where a refused client is redirected
    source: str = ""  # "Secret ns/name"

    @property
    def ca_id(self) -> str:
        """Names the CA set: the handshake records it, the route compares it."""
        import hashlib  # only routes with client certificates need it; validate starts without it

        return hashlib.sha256(self.ca_pem).hexdigest()[:16]
