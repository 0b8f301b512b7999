"""Strict parsing of upstream responses (RFC 9112): the status line and header fields, and the
chunk-size lines of a chunked body.

Anything outside the grammar is refused (ValueError → 502, connection not reused), never passed
on as sent: on a pooled keep-alive connection a lenient reading is a desync (response smuggling).

Why not httptools (llhttp): measured on a 10-header head (timeit, this machine), llhttp with the
Python callbacks a proxy needs (collect the header pairs) took 4.5 µs per head and 5.4 µs with the
hop-by-hop filtering, against 6.8 µs for `parse_head`; the rest of this parser (status-line and name
caches, the split into head and body done on the shared read buffer, splice hand-off) would have to
be rebuilt around its callbacks for at most ~1.5 µs per response. Chunk sizes are checked here
as llhttp checks them (1*HEXDIG, extensions by the RFC's grammar, no whitespace around the size).
"""

from __future__ import annotations

import re
from typing import Final

from ingressctl.proxy.headers import HOP_BY_HOP_NAMES, KEPT_DESPITE_CONNECTION

_HOP: Final = HOP_BY_HOP_NAMES
_CONNECTION_PLAIN: Final = frozenset({"keep-alive", "close", ""})


class ResponseHead:
    """A parsed response head; `headers` are the end-to-end headers only, ready for the client."""

    __slots__ = ("chunked", "content_length", "headers", "keep_alive", "reason", "status", "version")

    def __init__(
        self,
        status: int,
        reason: str,
        version: str,
        headers: list[tuple[str, str]],
        content_length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive


# RFC 9110 5.1: a field name is a token. Checked once per distinct name: names already seen map
# to their lowercase form, so validating a common name costs no more than lowering it did.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 5.5: VCHAR, SP, HTAB and obs-text. A bare CR or LF (or NUL) that reached the client
# would split one header into two (response splitting). Only values that fail the cheaper
# str.isprintable (a tab, obs-text, or a control) are matched against this.
_FIELD_VALUE: Final = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# RFC 9112 4: HTTP-version SP 3DIGIT SP reason; the SP before an empty reason is optional, as
# recipients SHOULD accept. Status codes outside 100..599 are invalid (RFC 9110 15).
_STATUS_LINE: Final = re.compile(r"(HTTP/1\.[0-9]) ([1-5][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?")
# Both caches only ever hold names and status lines that passed the checks; bounded so that an
# upstream inventing names cannot grow them (beyond the bound names are checked every time).
_names: dict[str, str] = {}
_statuses: dict[str, tuple[str, int, str]] = {}
_CACHE_MAX: Final = 512


def _status_line(line: str) -> tuple[str, int, str]:
    parsed = _statuses.get(line)
    if parsed is None:
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"upstream sent an invalid status line {line[:80]!r}")
        version, code, reason = match.groups()
        parsed = (version, int(code), reason or "")
        if len(_statuses) < _CACHE_MAX:
            _statuses[line] = parsed
    return parsed


def _field_name(name: str, line: str) -> str:
    if _TOKEN.fullmatch(name) is None:
        # Also a line starting with whitespace: obs-fold, which a proxy must not forward as is
        # (RFC 9112 5.2); refusing it is what nginx does.
        raise ValueError(f"upstream sent an invalid header {line[:80]!r}")
    lname = name.lower()
    if len(_names) < _CACHE_MAX:
        _names[name] = lname
    return lname


# Heads parsed before, by their exact bytes: a backend answers the same head (Date included) to
# every request of a second, and a lookup costs a tenth of a parse. Only heads that passed all the
# checks are kept (the same bytes always parse the same), only small ones, and at most _HEADS_KEPT:
# beyond that the cache starts again, so heads that never repeat cannot grow it.
_heads: dict[bytes, tuple[str, int, str, tuple[tuple[str, str], ...], int | None, bool, bool]] = {}
_HEADS_KEPT: Final = 256
_HEAD_KEPT_BYTES: Final = 2048


def parse_head(data: bytes) -> ResponseHead:
    """Parse a status line and headers (without the final blank line). Raises ValueError when the
    head is malformed (RFC 9112): the response is then refused, never forwarded as sent.

    Hop-by-hop headers, and those the upstream's Connection header names, are left out of
    `headers`; Content-Length is kept only when it frames the body (not with chunked encoding).
    Each call returns a new ResponseHead (its consumers edit the header list).
    """
    known = _heads.get(data)
    if known is not None:
        version, status, reason, pairs, length, chunked, keep_alive = known
        return ResponseHead(status, reason, version, list(pairs), length, chunked, keep_alive)
    head = _parse_head(data)
    if len(data) <= _HEAD_KEPT_BYTES:
        if len(_heads) >= _HEADS_KEPT:
            _heads.clear()
        _heads[data] = (
            head.version,
            head.status,
            head.reason,
            tuple(head.headers),
            head.content_length,
            head.chunked,
            head.keep_alive,
        )
    return head


def _parse_head(data: bytes) -> ResponseHead:
    lines = data.decode("latin-1").split("\r\n")
    version, status, reason = _status_line(lines[0])
    headers: list[tuple[str, str]] = []
    content_length: int | None = None
    transfer_encoding: str | None = None
    keep_alive = version == "HTTP/1.1"
    listed: set[str] | None = None
    names = _names
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"upstream sent an invalid header {line[:80]!r}")
        lname = names.get(name)
        if lname is None:
            lname = _field_name(name, line)
        value = value.strip(" \t")
        if not value.isprintable() and _FIELD_VALUE.fullmatch(value) is None:
            raise ValueError(f"upstream sent an invalid header {line[:80]!r}")
        if lname in _HOP:
            if lname == "transfer-encoding":
                if transfer_encoding is not None:
                    raise ValueError("upstream sent Transfer-Encoding twice")
                transfer_encoding = value
            elif lname == "connection":
                tokens = value.lower()
                if tokens not in _CONNECTION_PLAIN:
                    listed = {t.strip() for t in tokens.split(",")}
                if "close" in tokens:
                    keep_alive = False
                elif "keep-alive" in tokens:
                    keep_alive = True
            continue
        if lname == "content-length":
            if not (value.isascii() and value.isdigit()):
                raise ValueError(f"upstream sent an invalid Content-Length {value[:40]!r}")
            n = int(value)
            if content_length is not None:
                if n != content_length:
                    raise ValueError("upstream sent two different Content-Length headers")
                continue  # the same length twice: forwarded once
            content_length = n
        headers.append((name, value))
    chunked = False
    if transfer_encoding is not None:
        # Only chunked is decoded; forwarding another coding's bytes without its header would
        # corrupt the body, so it is refused (as nginx does).
        if transfer_encoding.lower() != "chunked":
            raise ValueError(f"upstream sent an unsupported Transfer-Encoding {transfer_encoding[:40]!r}")
        chunked = True
        # RFC 9112 6.1 and 6.3: Transfer-Encoding overrides Content-Length, which is dropped; both
        # together (or Transfer-Encoding in HTTP/1.0) hint at smuggling: the connection is not reused.
        if content_length is not None:
            content_length = None
            headers = [h for h in headers if h[0].lower() != "content-length"]
            keep_alive = False
        if version == "HTTP/1.0":
            keep_alive = False
    if listed:
        listed -= KEPT_DESPITE_CONNECTION
        if listed:
            headers = [h for h in headers if h[0].lower() not in listed]
    return ResponseHead(status, reason, version, headers, content_length, chunked, keep_alive)


# RFC 9112 7.1: chunk-size = 1*HEXDIG; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ),
# name a token, value a token or a quoted-string. Python's int(x, 16) also takes "0x5", "+5",
# "0_5" and " 5 ", which llhttp (and so a backend's own parser, or the next proxy) does not:
# two readings of one body is a desync.
_TOKEN_B = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_B = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_CHUNK_LINE: Final = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[ \t]*"
    + _TOKEN_B
    + rb"(?:[ \t]*=[ \t]*(?:"
    + _TOKEN_B
    + rb"|"
    + _QUOTED_B
    + rb"))?)*"
)
_TRAILER_LINE: Final = re.compile(_TOKEN_B + rb":[\t\x20-\x7e\x80-\xff]*")


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (without its CRLF); ValueError unless it is RFC 9112 7.1's."""
    match = _CHUNK_LINE.fullmatch(line)
    if match is None:
        raise ValueError(f"bad chunk size line {line[:40]!r}")
    return int(match.group(1), 16)


def check_trailer(line: bytes) -> None:
    """A trailer field line (dropped, but it must be one: it frames the end of the message)."""
    if _TRAILER_LINE.fullmatch(line) is None:
        raise ValueError(f"bad trailer line {line[:40]!r}")
