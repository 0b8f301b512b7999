"""Trailers through the proxy: response trailers to the client, for what forwards from a backend that
sends them (gRPC over h2c/h2), and request trailers an HTTP/2 client sent, to the backend.

aiohttp's StreamResponse has no trailers; over HTTP/2 the response writer of each stream can send
them (ingressctl.server.h2_stream.StreamWriter). A forwarder that relays an upstream response with
trailers ends it with `trailer_writer(request).write_trailers(...)` when there is one, and with
`response.write_eof()` otherwise (HTTP/1.1 clients: trailers dropped, as over HTTP/1.1 without
chunked trailers most clients would not read them anyway). Calling `write_eof()` afterwards is harmless.

This is the seam between the client side (issue 17, HTTP/2 to clients) and the upstream HTTP/2 client:
trailers are passed unchanged (names lowercased, as HTTP/2 requires).

Request trailers (`request_trailers`) come from HTTP/2 clients (ingressctl.server.h2_stream.StreamBody,
checked by h2_request.parse_trailers). They reach an HTTP/2 backend as a trailing HEADERS frame and an
HTTP/1.1 backend as the chunked body's trailer section when the body is sent chunked (no
Content-Length); a body with a Content-Length has nowhere to carry them over HTTP/1.1 and they are
dropped, which RFC 9110 6.5.1 allows a recipient (aiohttp's HTTP/1.1 parser drops HTTP/1.1 clients'
chunked trailers the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aiohttp.web_request import BaseRequest


@runtime_checkable
class TrailerWriter(Protocol):
    async def write_trailers(self, trailers: Sequence[tuple[str, str]]) -> None:
        """End the response (after its head and body) with these trailer fields."""
        ...


@runtime_checkable
class TrailerSource(Protocol):
    """A request body that may end with trailer fields (an HTTP/2 stream's)."""

    trailers: list[tuple[str, str]]


def request_trailers(request: BaseRequest) -> list[tuple[str, str]]:
    """The trailer fields `request`'s client sent after its body (read once the body has ended)."""
    content = request.content
    return list(content.trailers) if isinstance(content, TrailerSource) else []


def chunked_trailer_section(trailers: Sequence[tuple[str, str]]) -> bytes:
    """The end of a chunked body carrying `trailers` (RFC 9112 7.1.2)."""
    fields = b"".join(
        name.encode("ascii") + b": " + value.encode("utf-8", "surrogateescape") + b"\r\n"
        for name, value in trailers
    )
    return b"0\r\n" + fields + b"\r\n"


def trailer_writer(request: BaseRequest) -> TrailerWriter | None:
    """The writer of `request`'s response when it can send trailers (HTTP/2), else None."""
    writer = request.writer
    return writer if isinstance(writer, TrailerWriter) else None
