"""Client certificates asked for per host (ingress-nginx auth-tls-secret), for the SNI callback.

Python's ssl module cannot change a connection's verify mode in the SNI callback (OpenSSL keeps the
base context's), but a presented certificate is checked against the trust store of the context the
callback swaps in. So while any route asks for client certificates, the base contexts of TLS
entrypoints without a `clientCA` of their own ask every client for one (optional at the TLS level),
and a host with a requirement gets a context holding its CAs: a certificate of another CA fails the
handshake; whether one was presented at all, and for which CAs the handshake checked it (recorded
on the connection), is checked by the route's client-certificate middleware (400/403 there).
A host without a requirement gets a context with no CAs: a client that volunteers a certificate
there is refused in the handshake.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ingressctl.model import Route
from ingressctl.model.client_auth import HANDSHAKE_CA_ATTR, ClientAuth
from ingressctl.tls.pem import ParsedCertificate
from ingressctl.tls.profiles import CipherProfiles


class HostClientAuth:
    """Which SNI names ask for client certificates, and the base contexts that follow them."""

    def __init__(self, profiles: CipherProfiles) -> None:
        self._profiles = profiles
        self._lock = threading.Lock()
        self._by_host: Mapping[str, ClientAuth] = {}
        self._followers: dict[int, ssl.SSLContext] = {}  # id -> base context without its own clientCA

    def follow(self, base: ssl.SSLContext) -> None:
        """`base` (a TLS entrypoint without clientCA) asks for certificates while a host needs them."""
        with self._lock:
            self._followers[id(base)] = base
            if self._by_host:
                base.verify_mode = ssl.CERT_OPTIONAL

    def update(self, by_host: Mapping[str, ClientAuth]) -> None:
        """The requirements of the current routes, by host (exact or `*.domain`)."""
        with self._lock:
            self._by_host = dict(by_host)
            mode = ssl.CERT_OPTIONAL if by_host else ssl.CERT_NONE
            for base in self._followers.values():
                base.verify_mode = mode
        self._profiles.retain_client_cas({auth.ca_pem for auth in by_host.values()})

    def lookup(self, name: str) -> ClientAuth | None:
        by_host = self._by_host
        found = by_host.get(name)
        if found is None and "." in name:
            found = by_host.get("*." + name.split(".", 1)[1])
        return found

    def context(
        self, ssl_object: Any, name: str, base: ssl.SSLContext, parsed: ParsedCertificate
    ) -> ssl.SSLContext | None:
        """The context to swap in when `name` asks for client certificates (on a following base)."""
        if id(base) not in self._followers or not self._by_host:
            return None
        auth = self.lookup(name)
        if auth is None:
            return None
        setattr(ssl_object, HANDSHAKE_CA_ATTR, auth.ca_id)
        return self._profiles.context_with_client_ca(base, parsed, auth.ca_pem)


def client_auth_by_host(routes: Iterable[Route]) -> dict[str, ClientAuth]:
    """The first requirement of each host among `routes` (Route objects, in precedence order)."""
    out: dict[str, ClientAuth] = {}
    for route in routes:
        auth = route.middlewares.client_auth
        if auth is not None and route.host:
            out.setdefault(route.host, auth)
    return out
