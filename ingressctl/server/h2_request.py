"""An HTTP/2 request head, checked as RFC 9113 8.2-8.3 requires, as the request aiohttp would have parsed.

hyper-h2 can check headers itself, but it treats every malformed request as a connection error
(GOAWAY), where RFC 9113 8.1.1 asks for a stream error: one bad request must not end the client's
other requests on the connection. So h2's own validation is off and `parse_head` does it, and the
connection answers a malformed request with RST_STREAM(PROTOCOL_ERROR).

The result is what the HTTP/1.1 path hands the proxy: a `RawRequestMessage` with a `Host` header
made from `:authority` (RFC 9113 8.3.1: an intermediary converting to HTTP/1.1 must), and the
`Cookie` fields joined again (8.2.3), so every middleware and the forwarder work unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from aiohttp.http_parser import RawRequestMessage
from aiohttp.http_writer import HttpVersion
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

HTTP2: Final = HttpVersion(2, 0)
# RFC 9113 8.2.2: a request carrying one of these is malformed (TE is allowed with "trailers" only).
CONNECTION_SPECIFIC: Final = frozenset(
    {b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade"}
)
_REQUEST_PSEUDO: Final = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})
# A field name: lowercase token characters only (uppercase is malformed in HTTP/2, RFC 9113 8.2.1).
_NAME: Final = re.compile(rb"[a-z0-9!#$%&'*+\-.^_`|~]+")
_METHOD: Final = re.compile(rb"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")
# RFC 9113 8.2.1: no NUL, CR or LF anywhere in a value, no leading or trailing space or tab.
_BAD_VALUE: Final = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]$")


class MalformedRequest(ValueError):
    """A request head RFC 9113 calls malformed: answered with RST_STREAM(PROTOCOL_ERROR)."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    message: RawRequestMessage
    content_length: int | None
    grpc: bool  # content-type application/grpc (answered as gRPC when the proxy fails it)
    websocket: bool = False  # an extended CONNECT for a WebSocket (RFC 8441), made a GET + Upgrade


def parse_head(pairs: Iterable[tuple[bytes, bytes]]) -> RequestHead:
    """The request head of `pairs` (as decoded by HPACK); MalformedRequest says what is wrong."""
    pseudo: dict[bytes, bytes] = {}
    raw: list[tuple[bytes, bytes]] = []
    cookies: list[bytes] = []
    host: bytes | None = None
    content_length: bytes | None = None
    content_type = b""
    regular = False
    for name, value in pairs:
        if _BAD_VALUE.search(value):
            raise MalformedRequest(f"invalid characters in the value of {name[:40]!r}")
        if name[:1] == b":":
            if regular:
                raise MalformedRequest("a pseudo-header after a regular header")
            if name not in _REQUEST_PSEUDO:
                raise MalformedRequest(f"unknown pseudo-header {name[:40]!r}")
            if name in pseudo:
                raise MalformedRequest(f"repeated pseudo-header {name.decode()}")
            pseudo[name] = value
            continue
        regular = True
        if not _NAME.fullmatch(name):
            raise MalformedRequest(f"invalid header name {name[:40]!r} (uppercase or not a token)")
        if name in CONNECTION_SPECIFIC:
            raise MalformedRequest(f"connection-specific header {name.decode()}")
        if name == b"te":
            if value.lower() != b"trailers":
                raise MalformedRequest("TE other than trailers")
            continue  # hop-by-hop: not forwarded to an HTTP/1.1 backend
        if name == b"cookie":
            cookies.append(value)
            continue
        if name == b"host":
            if host is not None:
                raise MalformedRequest("repeated host header")
            host = value
            continue
        if name == b"content-length":
            if content_length is not None and content_length != value:
                raise MalformedRequest("conflicting content-length values")
            content_length = value
            continue
        if name == b"content-type":
            content_type = value
        raw.append((name, value))
    method = pseudo.get(b":method")
    if method is None or not _METHOD.fullmatch(method):
        raise MalformedRequest("missing or invalid :method")
    protocol = pseudo.get(b":protocol")
    websocket = False
    if protocol is not None:
        # RFC 8441 4: extended CONNECT (offered by SETTINGS_ENABLE_CONNECT_PROTOCOL) names the
        # protocol, and has :scheme, :path and :authority as any request does.
        if method != b"CONNECT" or not {b":scheme", b":path", b":authority"} <= pseudo.keys():
            raise MalformedRequest(":protocol needs CONNECT with :scheme, :path and :authority")
        websocket = protocol.lower() == b"websocket"
        if websocket:
            # Routed and filtered as the HTTP/1.1 handshake it stands for (proxy/websocket_h2.py).
            method = b"GET"
            raw += [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")]
    if method == b"CONNECT" and not websocket:
        # Plain CONNECT has only :method and :authority (RFC 9113 8.5); the proxy does not tunnel,
        # the handler says so (as it does for an extended CONNECT naming another protocol).
        if protocol is None and (b":scheme" in pseudo or b":path" in pseudo or b":authority" not in pseudo):
            raise MalformedRequest("CONNECT needs :authority and no :scheme or :path")
        path = pseudo[b":authority"]
    else:
        path = pseudo.get(b":path", b"")
        if not path or b":scheme" not in pseudo:
            raise MalformedRequest("missing :scheme or :path")
        if path[:1] != b"/" and not (path == b"*" and method == b"OPTIONS"):
            raise MalformedRequest(":path is neither an absolute path nor * (OPTIONS)")
    authority = pseudo.get(b":authority")
    if authority is not None:
        if host is not None and host != authority:
            # RFC 9113 8.3.1: the two must agree; an intermediary forwards one Host.
            raise MalformedRequest("host and :authority differ")
        host = authority
    if host is None or not host:
        raise MalformedRequest("no :authority and no host header")
    length: int | None = None
    if content_length is not None:
        if not content_length.isdigit():
            raise MalformedRequest("invalid content-length")
        length = int(content_length)
    head = [(b"Host", host)]
    if cookies:
        head.append((b"cookie", b"; ".join(cookies)))
    if content_length is not None:
        head.append((b"content-length", content_length))
    raw_headers = tuple(head + raw)
    headers = CIMultiDict[str]()
    for name, value in raw_headers:
        headers.add(name.decode("ascii"), value.decode("utf-8", "surrogateescape"))
    target = path.decode("utf-8", "surrogateescape")
    if target[:1] == "/":
        route_path, _, query = target.partition("?")
        url = URL.build(path=route_path, query_string=query, encoded=True)
    else:
        url = URL(target, encoded=True) if target == "*" else URL.build(authority=target, encoded=True)
    message = RawRequestMessage(
        method.decode("ascii"),
        target,
        HTTP2,
        CIMultiDictProxy(headers),
        raw_headers,
        False,  # should_close: the connection outlives the request
        None,
        False,
        False,
        url,
    )
    return RequestHead(message, length, content_type.startswith(b"application/grpc"), websocket)


# Request heads a connection keeps parsed (a client repeats a few heads: same page, same API call).
_HEADS_KEPT: Final = 8


class HeadCache:
    """The request heads one connection parsed, by their decoded fields: a repeated head (h2 gives
    each request its own list, but equal fields) is not parsed again. A RequestHead is immutable
    (its headers a read-only view), so the streams that carry the same head share it."""

    __slots__ = ("_heads",)

    def __init__(self) -> None:
        self._heads: dict[tuple[tuple[bytes, bytes], ...], RequestHead] = {}

    def parse(self, pairs: Iterable[tuple[bytes, bytes]]) -> RequestHead:
        """parse_head of `pairs`, remembered; MalformedRequest as parse_head raises it."""
        key = tuple(pairs)
        heads = self._heads
        head = heads.get(key)
        if head is None:
            head = parse_head(key)
            if len(heads) >= _HEADS_KEPT:
                heads.clear()
            heads[key] = head
        return head


# Fields a trailer section must not carry (RFC 9110 6.5.1: framing, routing, authentication, request
# modifiers): dropped rather than passed on, so no backend that merges trailers into the head (RFC 9110
# 6.5.2 forbids it, some do) can be handed a Host or credentials the routing and middlewares never saw.
_NOT_IN_TRAILERS: Final = frozenset(
    {
        b"content-length",
        b"content-type",
        b"content-encoding",
        b"content-range",
        b"host",
        b"te",
        b"trailer",
        b"authorization",
        b"proxy-authorization",
        b"cookie",
        b"expect",
        b"max-forwards",
        b"range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
    }
)


def parse_trailers(pairs: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The trailer fields of a request worth passing on; MalformedRequest for what RFC 9113 8.1 and
    8.2 call malformed (pseudo-headers, invalid or uppercase names, connection-specific fields, bad
    values)."""
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        if name[:1] == b":":
            raise MalformedRequest(f"pseudo-header {name[:40]!r} in trailers")
        if not _NAME.fullmatch(name):
            raise MalformedRequest(f"invalid trailer name {name[:40]!r} (uppercase or not a token)")
        if name in CONNECTION_SPECIFIC:
            raise MalformedRequest(f"connection-specific field {name.decode()} in trailers")
        if _BAD_VALUE.search(value):
            raise MalformedRequest(f"invalid characters in the value of trailer {name[:40]!r}")
        if name in _NOT_IN_TRAILERS:
            continue
        out.append((name.decode("ascii"), value.decode("utf-8", "surrogateescape")))
    return out
