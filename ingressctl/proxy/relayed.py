"""A relayed response whose whole body is at hand (small upstream answers): written in one pass.

aiohttp's response preparation costs more than the rest of relaying a small answer from a pooled
connection: a CIMultiDict built from the upstream's header pairs, then searched for Content-Length,
Content-Type, Date, Server, Connection and Transfer-Encoding, a status line formatted, the head
serialised, buffered and joined to the body by the writer. For the common case (HTTP/1.1,
keep-alive, a request without HEAD, a status with a body, nothing else to add) this module writes
what aiohttp would have written, byte for byte, from the pairs directly. Every other case takes
aiohttp's path, with the pairs moved into the headers first: the result is the same either way.
"""

from __future__ import annotations

from typing import Final

from aiohttp.abc import AbstractStreamWriter
from aiohttp.compression_utils import MAX_SYNC_CHUNK_SIZE
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http_writer import HttpVersion11, StreamWriter
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from ingressctl.proxy.bare import BareResponse

# Every byte but the controls aiohttp's serialiser refuses in a head (tab is allowed): deleting
# these from a head leaves its control bytes.
_NOT_CONTROLS: Final = bytes(b for b in range(256) if not ((b < 0x20 and b != 0x09) or b == 0x7F))
# Bodies up to this size are sent in the same write as the head (aiohttp joins below 2 KiB and
# hands larger pieces to writelines; one copy of a small body costs less than a second call).
_JOINED_MAX: Final = 64 * 1024
# Requests whose answer has no body (aiohttp's must_be_empty_body; CONNECT for its 2xx).
_EMPTY_BODY_METHODS: Final = frozenset({"HEAD", "CONNECT"})


def has_head_controls(text: str) -> bool:
    """Whether `text` holds a control character a head must not carry in a field (tab is allowed):
    the rule serialise_head checks on a whole head, for one name or value checked ahead of time."""
    return bool(text.encode("utf-8", "surrogatepass").translate(None, _NOT_CONTROLS))


class RelayedResponse(BareResponse):
    """The upstream's status, reason, header pairs (checked by the strict response parser) and
    whole body. `headers` shows the pairs once asked for; aiohttp's preparation then runs as for
    any response."""

    __slots__ = ("_clean", "_head", "_pairs", "_tail")

    def __init__(
        self,
        status: int,
        reason: str,
        pairs: list[tuple[str, str]],
        body: bytes | None,
        clean: bool = False,
        tail: HeadTail | None = None,
    ) -> None:
        # What web.Response.__init__(status=, reason=, body=) sets for a bytes body and a given
        # reason, without its keyword handling (a third of relaying a small answer's Python time);
        # tests/proxy/test_relayed.py holds the two equal attribute for attribute.
        if "\r" in reason or "\n" in reason:
            raise ValueError("Reason cannot contain \\r or \\n")
        self._state = {}
        self._headers = CIMultiDict()
        self._status = status
        self._reason = reason
        self._body = body
        self._compressed_body = None
        self._zlib_executor_size = MAX_SYNC_CHUNK_SIZE
        self._zlib_executor = None
        self._pairs: list[tuple[str, str]] | None = pairs
        self._head: bytes | None = None
        # The reason and pairs are the strict upstream parser's, unedited (see serialise_head).
        self._clean = clean
        self._tail = tail

    @property
    def headers(self) -> CIMultiDict[str]:
        pairs = self._pairs
        if pairs is not None:
            self._pairs = None
            self._headers.extend(pairs)
        return self._headers

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        if self._pairs is not None and self._payload_writer is None and not self._eof_sent:
            head = self._direct_head(request, self._pairs)
            if head is not None:
                self._head = head
                self._pairs = None
                self._req = request
                self._payload_writer = request.writer
                self._keep_alive = True
                self._must_be_empty_body = False
                return self._payload_writer
        self.headers  # noqa: B018 - the pairs join the headers before aiohttp prepares them
        return await super().prepare(request)

    def whole(self, request: BaseRequest) -> tuple[list[tuple[str, str]], bytes] | None:
        """The header pairs and the body, for a protocol that writes this answer past aiohttp's
        preparation (HTTP/2: ingressctl.server.h2_stream), adding only Content-Length and Date when
        absent as aiohttp would; None when the answer needs aiohttp's preparation. Nothing changes
        here: after None, `prepare` and `write_eof` still work."""
        pairs = self._pairs
        body = self._body
        status = self._status
        if (
            pairs is None
            or self._payload_writer is not None
            or self._eof_sent
            or status < 200
            or status == 204
            or status == 304
            or type(request) is not BaseRequest  # an application's request runs its signals
            or request._method in _EMPTY_BODY_METHODS
            or len(request)  # request state (CORS answer headers) is applied by BareStream
            or self._keep_alive is not None
            or self._cookies
            or self._compression
            or self._chunked
            or not isinstance(body, bytes | None)
            or (body is not None and len(body) > _JOINED_MAX)
        ):
            return None
        return pairs, body or b""

    def _direct_head(self, request: BaseRequest, pairs: list[tuple[str, str]]) -> bytes | None:
        """The head aiohttp would write, or None when this response needs aiohttp's preparation."""
        if request._version != HttpVersion11 or request._message.should_close:
            return None
        whole = self.whole(request)
        if whole is None:
            return None
        return serialise_head(self._status, self._reason, pairs, len(whole[1]), self._clean, self._tail)

    async def write_eof(self, data: bytes = b"") -> None:
        head = self._head
        if head is None:
            await super().write_eof(data)
            return
        if self._eof_sent:
            return
        writer = self._payload_writer
        assert writer is not None
        body = self._body
        data = head + body if isinstance(body, bytes) else head
        if (
            type(writer) is StreamWriter
            and not writer._eof
            and writer._headers_buf is None
            and writer._compress is None
            and not writer.chunked
            and writer._on_chunk_sent is None
            and writer.on_body_write is None
        ):
            # What StreamWriter.write_eof does for a plain writer (one write, a drain only when
            # the transport is paused), without its coroutine and drain's.
            writer._write(data)
            protocol = writer._protocol
            if protocol._paused and protocol.transport is not None:
                await protocol._drain_helper()
            writer._eof = True
        else:
            await writer.write_eof(data)
        self._head = None
        self._eof_sent = True
        self._req = None
        self._body_length = writer.output_size
        self._payload_writer = None


class HeadTail:
    """Header pairs a response filter appends to every answer, serialised once when the plan is
    built (ingressctl.proxy.middlewares.headers): `serialise_head` writes them as one piece when
    they are still the last pairs of a head. Never Content-Length or Date (those are looked for)."""

    __slots__ = ("pairs", "text")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        if any(name.lower() in ("content-length", "date") for name, _ in pairs):
            raise ValueError("a head tail cannot hold Content-Length or Date")
        self.pairs = pairs
        self.text = "".join(f"{name}: {value}\r\n" for name, value in pairs)


def serialise_head(
    status: int,
    reason: str,
    pairs: list[tuple[str, str]],
    length: int,
    clean: bool = False,
    tail: HeadTail | None = None,
) -> bytes | None:
    """The HTTP/1.1 head aiohttp writes for a keep-alive answer with a body of `length` bytes: the
    pairs in order, then Content-Length and Date unless present. None when a name or value holds a
    control character (aiohttp's serialiser refuses those) or a Content-Length that is not `length`.
    `clean`: the reason and pairs are the strict upstream parser's, which refused any control
    character (ingressctl.proxy.upstream.parser), so they are not searched for one again.
    `tail`: when the pairs end with its pairs (the very list a response filter appended), those
    are written as its text, prepared once, instead of pair by pair: the same bytes.
    """
    key = (status, reason, length, tuple(pairs))
    known = _serialised.get(key)
    if known is not None:
        return known
    parts = ["HTTP/1.1 ", str(status), " ", reason, "\r\n"]
    has_length = has_date = False
    tail_text = ""
    lines_in_tail = 0
    if tail is not None:
        count = len(tail.pairs)
        if count and len(pairs) >= count and pairs[-count:] == tail.pairs:
            tail_text = tail.text
            pairs = pairs[:-count]
            lines_in_tail = count
    for name, value in pairs:
        size = len(name)
        if size == 14 and name.lower() == "content-length":
            if value != str(length):
                return None  # aiohttp would send what the header says
            has_length = True
        elif size == 4 and name.lower() == "date":
            has_date = True
        parts += (name, ": ", value, "\r\n")
    lines = len(pairs) + 2
    if tail_text:
        parts.append(tail_text)
        lines += lines_in_tail
    if not has_length:
        parts.append(f"Content-Length: {length}\r\n")
        lines += 1
    if not has_date:
        parts += ("Date: ", rfc822_formatted_time(), "\r\n")
        lines += 1
    parts.append("\r\n")
    data = "".join(parts).encode("utf-8")
    # The control bytes of the head must be its line ends and nothing else: a CR, LF or other
    # control inside a value is refused (aiohttp's serialiser raises; a 500, server/protocol.py).
    # UTF-8 encodes no character above U+007F with bytes below 0x80.
    if not clean and data.translate(None, _NOT_CONTROLS) != b"\r\n" * lines:
        return None
    if has_length and has_date and len(data) <= _SERIALISED_KEPT_BYTES:
        # Made of its inputs alone (no Date of ours): the same head serialises the same.
        if len(_serialised) >= _SERIALISED_KEPT:
            _serialised.clear()
        _serialised[key] = data
    return data


# Heads serialised before, by status, reason, length and pairs, when those are all they hold (the
# backend's own Date and Content-Length): a backend sends the same head to every request of a
# second (the parser hands out the same strings for it), and a look-up costs a fraction of
# serialising. Only heads that passed the checks are kept (a tail's pairs are among the pairs,
# and a clean head is one the checks would pass), small ones, at most _SERIALISED_KEPT: beyond
# that the table starts again.
_serialised: dict[tuple[int, str, int, tuple[tuple[str, str], ...]], bytes] = {}
_SERIALISED_KEPT: Final = 256
_SERIALISED_KEPT_BYTES: Final = 2048
