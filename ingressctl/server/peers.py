"""What a transport's "peername" extra holds, named once for the listeners and HTTP/2."""

from __future__ import annotations

import ssl

# (host, port) for IPv4, (host, port, flowinfo, scope_id) for IPv6, a path for a Unix socket, None
# when the transport does not know (asyncio's get_extra_info is untyped: this is what it returns).
PeerName = tuple[str, int] | tuple[str, int, int, int] | str | None

# A TLS connection's context ("sslcontext"); None on plain connections.
TLSContext = ssl.SSLContext | None
