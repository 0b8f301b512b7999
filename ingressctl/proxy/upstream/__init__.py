"""Upstream connections: the HTTP/1.1 client of the proxy, one concern per module.

- `parser`: strict parsing of response heads and chunk lines (RFC 9112);
- `connection`: one keep-alive connection as an asyncio protocol (framing, flow control, splice hand-off);
- `buffers`: the read buffer the connections of one event loop share;
- `deadlines`: their timeouts, checked by one periodic timer;
- `errors`: `UpstreamError`, how an upstream failed.
"""

from ingressctl.proxy.upstream.buffers import ReadBuffer
from ingressctl.proxy.upstream.connection import UpstreamConnection
from ingressctl.proxy.upstream.deadlines import Deadlines
from ingressctl.proxy.upstream.errors import UpstreamError
from ingressctl.proxy.upstream.parser import ResponseHead

__all__ = ["Deadlines", "ReadBuffer", "ResponseHead", "UpstreamConnection", "UpstreamError"]
