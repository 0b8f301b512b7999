"""What the SNI callback records on a TLS connection, and the checks that read it later.

The store's SNI callback (ingressctl.tls.store) marks the connection's ssl.SSLObject with the name
the client asked for and the names the served certificate covers; the proxy reads them back to
answer 421 Misdirected Request (RFC 9110 15.5.20) and to close TLS-ALPN-01 validation connections.
"""

from __future__ import annotations

from typing import Any

from ingressctl.tls import names as tlsnames

# Attributes set on the connection's ssl.SSLObject by the SNI callback.
_SNI_ATTR = "ingressctl_server_name"
_NAMES_ATTR = "ingressctl_certificate_names"
_CHALLENGE_ATTR = "ingressctl_acme_challenge"


def mark_served(ssl_object: Any, server_name: str, served_names: frozenset[str]) -> None:
    """Record the SNI name and the names of the certificate chosen for it."""
    setattr(ssl_object, _SNI_ATTR, server_name)
    setattr(ssl_object, _NAMES_ATTR, served_names)


def mark_challenge(ssl_object: Any, server_name: str) -> None:
    """Record that this handshake got a TLS-ALPN-01 challenge certificate."""
    setattr(ssl_object, _SNI_ATTR, server_name)
    setattr(ssl_object, _CHALLENGE_ATTR, True)


def server_name_of(ssl_object: Any) -> str | None:
    """The SNI name the client sent on this connection ("" for none; None if unknown)."""
    value = getattr(ssl_object, _SNI_ATTR, None)
    return value if isinstance(value, str) else None


def certificate_names_of(ssl_object: Any) -> frozenset[str] | None:
    """Names covered by the certificate served on this connection (None if unknown)."""
    value = getattr(ssl_object, _NAMES_ATTR, None)
    return value if isinstance(value, frozenset) else None


def challenge_connection(ssl_object: Any) -> bool:
    """True for a TLS-ALPN-01 validation connection: it must not be served HTTP."""
    return bool(getattr(ssl_object, _CHALLENGE_ATTR, False))


def host_allowed(ssl_object: Any, host: str) -> bool:
    """Whether a request for `host` may be served on this TLS connection (False → 421).

    Allowed: the Host is the SNI name, or the served certificate covers it, or nothing is known
    (no SNI at all: old clients; not a TLS connection). Refused: the client asked for one name and
    now sends a request for another name that its certificate does not cover (connection reuse).
    """
    if ssl_object is None:
        return True
    sni = server_name_of(ssl_object)
    if not sni:
        return True
    wanted = tlsnames.normalize(host)
    if wanted == sni:
        return True
    names = certificate_names_of(ssl_object)
    return names is not None and tlsnames.covers(names, wanted)
