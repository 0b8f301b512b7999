"""Response trailers to the client, for what forwards from a backend that sends them (gRPC over h2c/h2).

aiohttp's StreamResponse has no trailers; over HTTP/2 the response writer of each stream can send
them (ingressctl.server.h2_stream.StreamWriter). A forwarder that relays an upstream response with
trailers ends it with `trailer_writer(request).write_trailers(...)` when there is one, and with
`response.write_eof()` otherwise (HTTP/1.1 clients: trailers dropped, as over HTTP/1.1 without
chunked trailers most clients would not read them anyway). Calling `write_eof()` afterwards is harmless.

This is the seam between the client side (issue 17, HTTP/2 to clients) and the upstream HTTP/2 client:
trailers are passed unchanged (names lowercased, as HTTP/2 requires).
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


def trailer_writer(request: BaseRequest) -> TrailerWriter | None:
    """The writer of `request`'s response when it can send trailers (HTTP/2), else None."""
    writer = request.writer
    return writer if isinstance(writer, TrailerWriter) else None
