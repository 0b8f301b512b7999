"""Which headers cross the proxy, and the forwarded headers it adds.

One list of hop-by-hop headers (RFC 9110 7.6.1) for both directions (the request head built in
proxy/handler.py, the response head parsed in proxy/upstream/parser.py, the websocket handshake),
plus any header the peer's `Connection` header names — except those in KEPT_DESPITE_CONNECTION:
the forwarded headers the proxy itself sets (a client must not delete them that way) and the
headers that frame or type a message (dropping Content-Length from a request whose body is still
forwarded would let the backend read that body as the next request).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"http2-settings",
    }
)

FORWARDED: Final = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-server",
        b"x-real-ip",
    }
)

# The same list as str, for the response parser (which works on decoded lines).
HOP_BY_HOP_NAMES: Final = frozenset(name.decode() for name in HOP_BY_HOP)

# Response headers never passed to the client as they are (aiohttp writes its own framing).
RESPONSE_DROP: Final = HOP_BY_HOP | {b"content-length"}

# Names a Connection header cannot remove (see the module docstring).
_KEPT: Final = FORWARDED | {b"host", b"content-length", b"content-type"}
KEPT_DESPITE_CONNECTION: Final = frozenset(name.decode() for name in _KEPT)


_PLAIN: Final = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close", b"upgrade", b"Upgrade"})
_NONE: Final[frozenset[bytes]] = frozenset()


def connection_tokens(value: bytes) -> frozenset[bytes]:
    """Header names listed in a Connection header (lower case), minus the ones we must keep."""
    if value in _PLAIN:
        return _NONE
    tokens = {t.strip().lower() for t in value.split(b",")}
    tokens.discard(b"")
    return frozenset(tokens - _KEPT)


class TrustedNetworks:
    """Addresses whose incoming X-Forwarded-* and X-Real-Ip headers are believed."""

    __slots__ = ("_cache", "_networks", "configured")

    def __init__(self, cidrs: Sequence[str]) -> None:
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for cidr in cidrs:
            nets.append(ipaddress.ip_network(cidr.strip(), strict=False))
        self._networks = tuple(nets)
        self._cache: dict[str, bool] = {}
        # bool(self), read per request without a Python call (__bool__ is one)
        self.configured = bool(nets)

    def __bool__(self) -> bool:
        return self.configured

    def contains(self, address: str) -> bool:
        hit = self._cache.get(address)
        if hit is not None:
            return hit
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            result = False
        else:
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            result = any(ip in net for net in self._networks)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[address] = result
        return result


class SourceRanges:
    """An IP allow-list (whitelist-source-range); empty allows everyone."""

    __slots__ = ("_trusted",)

    def __init__(self, cidrs: Sequence[str]) -> None:
        self._trusted = TrustedNetworks(cidrs)

    def __bool__(self) -> bool:
        return bool(self._trusted)

    def allows(self, address: str) -> bool:
        return self._trusted.contains(address)


def host_port(host: str, default: int) -> int:
    """The port in a Host header value, else `default`."""
    if host.endswith("]"):
        return default
    _, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return int(port)
    return default
