"""Listen addresses as Traefik writes them: ":80", "0.0.0.0:443", "[::1]:8080", "localhost:8000"."""

from __future__ import annotations

import ipaddress
import re

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def address_problem(address: str) -> str | None:
    """Why `address` is not a usable listen address, or None when it is."""
    host, sep, port = address.rpartition(":")
    if not sep:
        return 'needs a port, like ":80" or "127.0.0.1:8080"'
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f"port {port!r} is not a number between 0 and 65535"
    if host.startswith("["):
        if not host.endswith("]"):
            return 'an IPv6 host must be in brackets, like "[::1]:8080"'
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host[1:-1]!r} is not an IPv6 address"
        return None
    if ":" in host:
        return 'an IPv6 host must be in brackets, like "[::1]:8080"'
    if host and not _HOSTNAME.fullmatch(host):
        return f"{host!r} is not an IP address or host name"
    return None
