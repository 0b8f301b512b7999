"""compress (`[entryPoints.X] compress = true`): responses compressed with brotli or gzip when the
client accepts it, as they stream.

Compressed: text and the structured text types (JSON, JavaScript, XML, SVG, ...) of at least
MIN_SIZE bytes (or of unknown length). Never: a body that already has a Content-Encoding, a partial
response (206, Content-Range), a response marked `Cache-Control: no-transform` (RFC 9111 5.2.2.6),
HEAD answers and bodiless statuses. Every response that could be compressed says
`Vary: Accept-Encoding`, so that caches keep both forms apart; a strong ETag becomes weak (the
bytes differ from the identity form). Each chunk the backend sends is flushed at once: a stream
(server-sent events, long polling) is not held back to fill a compression window.
"""

from __future__ import annotations

import zlib
from typing import Final

import brotli

from ingressctl.proxy.exchange import BodyEncoder, Exchange
from ingressctl.routing.chain_entrypoint import COMPRESS_MIN_SIZE

MIN_SIZE: Final = COMPRESS_MIN_SIZE  # what `routes --explain` and the API say (one number)
_TEXT_TYPES: Final = frozenset(
    {
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/graphql",
        "application/wasm",
        "application/x-ndjson",
        "application/vnd.ms-fontobject",
        "font/otf",
        "font/ttf",
        "image/svg+xml",
        "image/x-icon",
        "image/bmp",
    }
)
_NO_BODY: Final = frozenset({204, 304})
GZIP_LEVEL: Final = 5
BROTLI_QUALITY: Final = 4  # of 11: near gzip's speed, smaller output


def compressible(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return (
        media.startswith("text/") or media in _TEXT_TYPES or media.endswith("+json") or media.endswith("+xml")
    )


def accepted_coding(accept_encoding: str) -> str | None:
    """ "br" or "gzip", whichever the client accepts (q > 0) and prefers, brotli on a tie; else None."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        weights[coding] = q
    star = weights.get("*", 0.0)
    br = weights.get("br", star)
    gz = max(weights.get("gzip", star), weights.get("x-gzip", 0.0))
    if br <= 0 and gz <= 0:
        return None
    return "br" if br >= gz else "gzip"


class _Gzip:
    __slots__ = ("_z",)

    def __init__(self) -> None:
        self._z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip framing

    def encode(self, data: bytes | memoryview) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    __slots__ = ("_c",)

    def __init__(self) -> None:
        self._c = brotli.Compressor(quality=BROTLI_QUALITY)

    def encode(self, data: bytes | memoryview) -> bytes:
        return bytes(self._c.process(bytes(data))) + bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


class Compress:
    """A response filter of the entrypoint, outermost in every route's chain."""

    __slots__ = ()

    name = "compress"  # described by routing.chain_entrypoint.CompressSpec

    def on_response(
        self,
        exchange: Exchange,
        status: int,
        headers: list[tuple[str, str]],
        relayed: bool,
        length: int | None = None,
    ) -> BodyEncoder | None:
        if not relayed or status in _NO_BODY or status < 200 or status == 206:
            return None
        if length is not None and length < MIN_SIZE:
            return None  # never compressed, so no Vary either: decided before reading the head
        content_type = ""
        for name, value in headers:
            lname = name.lower()
            if lname == "content-encoding" and value.strip().lower() not in ("", "identity"):
                return None
            if lname == "content-range":
                return None
            if lname == "cache-control" and "no-transform" in value.lower():
                return None
            if lname == "content-type":
                content_type = value
        if not compressible(content_type):
            return None
        _add_vary(headers)
        request = exchange.request
        if request.method == "HEAD":
            return None
        coding = accepted_coding(request.headers.get("Accept-Encoding", ""))
        if coding is None:
            return None
        for index, (name, value) in enumerate(headers):
            lname = name.lower()
            if lname == "etag" and not value.startswith("W/"):
                headers[index] = (name, "W/" + value)
        # The length is the identity body's: the encoded one is framed by the server (chunked).
        dropped = ("accept-ranges", "content-encoding", "content-length")
        headers[:] = [(n, v) for n, v in headers if n.lower() not in dropped]
        headers.append(("Content-Encoding", coding))
        return _Brotli() if coding == "br" else _Gzip()


def _add_vary(headers: list[tuple[str, str]]) -> None:
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary":
            tokens = {t.strip().lower() for t in value.split(",")}
            if "accept-encoding" not in tokens and "*" not in tokens:
                headers[index] = (name, value + ", Accept-Encoding")
            return
    headers.append(("Vary", "Accept-Encoding"))


COMPRESS: Final = Compress()
