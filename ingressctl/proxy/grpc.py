"""gRPC clients get gRPC answers: the proxy's own failures as grpc-status, never an HTML/text page.

A gRPC client reads the status from trailers; an HTTP 503 with a text body is a protocol error to it
("Received http2 header with status: 503"), which hides what went wrong. So when the proxy itself
must fail a request whose content-type is application/grpc (no route, no endpoint, backend down,
timeout, circuit open, refused by a middleware) it answers HTTP 200 with a trailers-only response:
`grpc-status` mapped from the HTTP status as gRPC's own HTTP-to-gRPC table does (doc/http-grpc-status-
mapping.md), except that the proxy's 504 is DEADLINE_EXCEEDED, as the issue asks and Envoy does.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0
UNKNOWN: Final = 2
DEADLINE_EXCEEDED: Final = 4
PERMISSION_DENIED: Final = 7
UNIMPLEMENTED: Final = 12
INTERNAL: Final = 13
UNAVAILABLE: Final = 14
UNAUTHENTICATED: Final = 16

_FROM_HTTP: Final = {
    400: INTERNAL,
    401: UNAUTHENTICATED,
    403: PERMISSION_DENIED,
    404: UNIMPLEMENTED,
    429: UNAVAILABLE,
    502: UNAVAILABLE,
    503: UNAVAILABLE,
    504: DEADLINE_EXCEEDED,
}
# grpc-timeout units (gRPC over HTTP/2, "Timeout"): hours, minutes, seconds, milli-, micro-, nanoseconds.
_UNITS: Final = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def is_grpc(content_type: str | None) -> bool:
    """application/grpc, application/grpc+proto, application/grpc-web is not (it works over HTTP/1.1)."""
    if not content_type:
        return False
    base = content_type.split(";", 1)[0].strip().lower()
    return base == "application/grpc" or base.startswith("application/grpc+")


def status_for(http_status: int) -> int:
    """The grpc-status for a request the proxy answered with `http_status` itself."""
    return _FROM_HTTP.get(http_status, UNKNOWN)


def parse_timeout(value: str | None) -> float | None:
    """Seconds of a grpc-timeout value ("100m", "5S"); None when absent or malformed (ignored, as
    gRPC servers do)."""
    if not value or len(value) > 9:
        return None
    digits, unit = value[:-1], value[-1]
    scale = _UNITS.get(unit)
    if scale is None or not digits.isdigit():
        return None
    return int(digits) * scale


def encode_message(text: str) -> str:
    """grpc-message is percent-encoded UTF-8 (bytes outside printable ASCII, and '%')."""
    out = []
    for byte in text.encode("utf-8"):
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def trailers_only(http_status: int, text: str) -> list[tuple[bytes, bytes]]:
    """The HEADERS of a trailers-only gRPC answer for the proxy's own `http_status` and message."""
    return [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
        (b"grpc-status", str(status_for(http_status)).encode("ascii")),
        (b"grpc-message", encode_message(text.strip()).encode("ascii")),
    ]
