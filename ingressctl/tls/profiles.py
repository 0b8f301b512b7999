"""Per-certificate SSLContexts for entrypoints whose `cipherSuites` differ from the default profile.

When the SNI callback swaps a certificate's context into a connection, OpenSSL negotiates the TLS 1.2
cipher suite from that context's list, not from the entrypoint's base context (the minimum version
stays the base context's). So an entrypoint with its own `cipherSuites` needs its own context for
every certificate. They are built when a certificate or a cipher list is added, outside the SNI
callback; one still missing at handshake time is built there once (well under a millisecond),
never replaced by a context with another cipher list.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable

from ingressctl.tls.contexts import load_into, server_context
from ingressctl.tls.pem import ParsedCertificate

Ciphers = tuple[str, ...]


class CipherProfiles:
    """The cipher lists of entrypoints (by their base context) and the certificate contexts for each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_base: dict[int, Ciphers] = {}  # id(base context) -> its cipher list; bases live forever
        self._contexts: dict[tuple[Ciphers, str], ssl.SSLContext] = {}

    def register(
        self, base: ssl.SSLContext, ciphers: Ciphers, certificates: Iterable[ParsedCertificate]
    ) -> None:
        """`base` (an entrypoint's context) offers `ciphers`; prepare contexts for `certificates`."""
        if not ciphers:
            return
        with self._lock:
            self._by_base[id(base)] = ciphers
        self.prepare(certificates)

    def prepare(self, certificates: Iterable[ParsedCertificate]) -> None:
        """Build the contexts of new certificates for every registered cipher list."""
        with self._lock:
            lists = set(self._by_base.values())
        for parsed in certificates:
            for ciphers in lists:
                self._context(ciphers, parsed)

    def context_for(self, base: ssl.SSLContext, parsed: ParsedCertificate) -> ssl.SSLContext | None:
        """The context to swap in for `parsed` on a connection of `base`; None: the default profile's."""
        ciphers = self._by_base.get(id(base))
        if ciphers is None:
            return None
        return self._context(ciphers, parsed)

    def retain(self, digests: set[str]) -> None:
        """Forget the contexts of certificates that are no longer stored."""
        with self._lock:
            self._contexts = {k: v for k, v in self._contexts.items() if k[1] in digests}

    def _context(self, ciphers: Ciphers, parsed: ParsedCertificate) -> ssl.SSLContext:
        key = (ciphers, parsed.digest)
        found = self._contexts.get(key)
        if found is None:
            found = server_context(ciphers=ciphers)
            load_into(found, parsed)
            with self._lock:
                found = self._contexts.setdefault(key, found)
        return found
