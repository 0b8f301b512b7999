"""Who the client is: the peer, or — when the peer is a trusted proxy — the address it forwarded for.

Limits and allow-lists keyed by "the client" must not count every user behind a load balancer as
one source, nor believe an X-Forwarded-For any client can write: the forwarded address is used
only when the peer is trusted (--trusted-ips), and then the rightmost address that is not itself a
trusted proxy (earlier entries were written by whoever sent the request and prove nothing).
"""

from __future__ import annotations

import ipaddress

from aiohttp.web_request import BaseRequest

from ingressctl.proxy.headers import TrustedNetworks


def client_address(request: BaseRequest, trusted: TrustedNetworks) -> str:
    peer = request.remote or ""
    if not trusted.configured or not trusted.contains(peer):
        return peer
    forwarded = request.headers.getall("X-Forwarded-For", ())
    if not forwarded:
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        address = _address(hop)
        if address is None:
            return peer  # unparsable: the chain cannot be followed further than the peer
        if not trusted.contains(address):
            return address
    return peer


def _address(hop: str) -> str | None:
    """The IP of an X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1")."""
    text = hop
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
