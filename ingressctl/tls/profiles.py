"""Per-certificate SSLContexts for entrypoints whose `cipherSuites` or ALPN list differ from the default
profile, or that ask for client certificates (`clientCA`).

When the SNI callback swaps a certificate's context into a connection, OpenSSL negotiates the TLS 1.2
cipher suite from that context's list, not from the entrypoint's base context (the minimum version
stays the base context's). So an entrypoint with its own `cipherSuites` needs its own context for
every certificate. They are built when a certificate or a cipher list is added, outside the SNI
callback; one still missing at handshake time is built there once (well under a millisecond),
never replaced by a context with another cipher list.

Client certificates: OpenSSL keeps the base context's verify mode for the connection, but checks a
presented certificate against the trust store of the context the callback swapped in; so each
certificate context of a clientCA entrypoint carries the entrypoint's CAs and verify mode too.

The same holds for ALPN: OpenSSL asks the swapped-in context which protocol to select, so an
entrypoint with HTTP/2 turned off needs certificate contexts that offer only http/1.1.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable

from ingressctl.tls.contexts import ALPN_DEFAULT, load_into, server_context
from ingressctl.tls.pem import ParsedCertificate

Ciphers = tuple[str, ...]
Alpn = tuple[str, ...]
# (TLS 1.2 cipher list, client CA PEM, client certificate optional, ALPN protocols): what a certificate
# context needs beyond the certificate. ((), b"", False, ALPN_DEFAULT) is the default profile.
Profile = tuple[Ciphers, bytes, bool, Alpn]


def require_client_certificates(ctx: ssl.SSLContext, ca_pem: bytes, optional: bool) -> None:
    """Make `ctx` ask for (optional) or require a client certificate chaining to `ca_pem`."""
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii", "replace"))
    ctx.verify_mode = ssl.CERT_OPTIONAL if optional else ssl.CERT_REQUIRED


class CipherProfiles:
    """The cipher lists of entrypoints (by their base context) and the certificate contexts for each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_base: dict[int, Profile] = {}  # id(base context) -> its profile; bases live forever
        self._contexts: dict[tuple[Profile, str], ssl.SSLContext] = {}

    def register(
        self,
        base: ssl.SSLContext,
        ciphers: Ciphers,
        certificates: Iterable[ParsedCertificate],
        client_ca: bytes = b"",
        optional: bool = False,
        alpn: Alpn = ALPN_DEFAULT,
    ) -> None:
        """`base` (an entrypoint's context) offers `ciphers` and `alpn` (and asks for client
        certificates of `client_ca`); prepare contexts for `certificates`."""
        if not ciphers and not client_ca and alpn == ALPN_DEFAULT:
            return
        with self._lock:
            self._by_base[id(base)] = (ciphers, client_ca, optional, alpn)
        self.prepare(certificates)

    def prepare(self, certificates: Iterable[ParsedCertificate]) -> None:
        """Build the contexts of new certificates for every registered cipher list."""
        with self._lock:
            profiles = set(self._by_base.values())
        for parsed in certificates:
            for profile in profiles:
                self._context(profile, parsed)

    def context_for(self, base: ssl.SSLContext, parsed: ParsedCertificate) -> ssl.SSLContext | None:
        """The context to swap in for `parsed` on a connection of `base`; None: the default profile's."""
        profile = self._by_base.get(id(base))
        if profile is None:
            return None
        return self._context(profile, parsed)

    def context_with_client_ca(
        self, base: ssl.SSLContext, parsed: ParsedCertificate, ca_pem: bytes
    ) -> ssl.SSLContext:
        """The context for `parsed` on a connection of `base` whose host asks (optionally) for a
        client certificate of `ca_pem` (ingress-nginx auth-tls-secret)."""
        profile = self._by_base.get(id(base))
        ciphers = profile[0] if profile is not None else ()
        alpn = profile[3] if profile is not None else ALPN_DEFAULT
        return self._context((ciphers, ca_pem, True, alpn), parsed)

    def retain_client_cas(self, keep: set[bytes]) -> None:
        """Forget the per-host contexts of client CAs no route uses any more."""
        with self._lock:
            keep = keep | {p[1] for p in self._by_base.values()}
            self._contexts = {k: v for k, v in self._contexts.items() if not k[0][1] or k[0][1] in keep}

    def retain(self, digests: set[str]) -> None:
        """Forget the contexts of certificates that are no longer stored."""
        with self._lock:
            self._contexts = {k: v for k, v in self._contexts.items() if k[1] in digests}

    def _context(self, profile: Profile, parsed: ParsedCertificate) -> ssl.SSLContext:
        key = (profile, parsed.digest)
        found = self._contexts.get(key)
        if found is None:
            ciphers, client_ca, optional, alpn = profile
            found = server_context(ciphers=ciphers, alpn=alpn)
            load_into(found, parsed)
            if client_ca:
                require_client_certificates(found, client_ca, optional)
            with self._lock:
                found = self._contexts.setdefault(key, found)
        return found
