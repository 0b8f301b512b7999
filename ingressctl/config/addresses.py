"""Listen addresses as Traefik writes them: ":80", "0.0.0.0:443", "[::1]:8080", "localhost:8000".

":PORT" and "[::]:PORT" listen on IPv6 and IPv4 (dual stack, as Go does), "0.0.0.0:PORT" on IPv4 only.
"""

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


def addresses_overlap(a: str, b: str) -> bool:
    """Whether two valid listen addresses would claim the same port on some address (port 0 never)."""
    host_a, _, port_a = a.rpartition(":")
    host_b, _, port_b = b.rpartition(":")
    if int(port_a) == 0 or int(port_a) != int(port_b):
        return False
    ha, hb = _listen_host(host_a), _listen_host(host_b)
    if ha == hb or "::" in (ha, hb):  # the dual-stack wildcard covers every address
        return True
    return "0.0.0.0" in (ha, hb) and ":" not in ha + hb  # the IPv4 wildcard covers IPv4 addresses


def _listen_host(host: str) -> str:
    host = host.strip("[]").lower()
    if not host:
        return "::"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host  # a host name: only the same name is known to overlap
