"""One HTTP/2 stream as the proxy's request path sees a request: aiohttp's own request and response
objects over a body reader, a response writer and a transport that belong to the stream.

The request path (hooks, routing, the middleware chain, the forwarder) takes an aiohttp
`BaseRequest` and returns a `StreamResponse`; over HTTP/2 it gets the same, built here, so every
middleware works for both protocols without knowing which one carried the request:

- `StreamBody` is aiohttp's StreamReader; what the proxy consumes of it is granted back to the
  client as flow-control window, so a client can never have more than the stream's window buffered.
- `StreamWriter` writes the response head as HEADERS and the body as DATA frames, waiting for the
  client's window (and for the socket to drain): a client that does not read stops the proxy from
  reading the backend. It sends trailers too (`write_trailers`, for gRPC). A small relayed answer
  whose body is whole (proxy/relayed.py, most answers) skips aiohttp's response preparation: its
  fields go out as HEADERS and its body as DATA with END_STREAM on the last frame (`answer_whole`).
- `StreamTransport` is what `request.transport` returns: the connection's TLS facts (SNI and the
  certificate, for the 421 check), no socket (nothing is spliced into a multiplexed connection), and
  `abort()` resets this stream only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Protocol

from aiohttp.abc import AbstractStreamWriter
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.streams import StreamReader
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from multidict import CIMultiDict

from ingressctl.proxy import grpc
from ingressctl.proxy.answers import ProxyAnswer
from ingressctl.proxy.relayed import RelayedResponse
from ingressctl.server.peers import PeerName, TLSContext

# Response fields HTTP/2 forbids (RFC 9113 8.2.2): the HTTP/1.1 framing of the backend's answer.
_HOP_BY_HOP: Final = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
# Field names as HTTP/2 writes them, by the names responses carry (process-wide; cleared when full).
_field_names: dict[str, bytes] = {}
_NAMES_KEPT: Final = 1024
_STATUS: Final = {code: str(code).encode("ascii") for code in range(100, 600)}
# The interim answer the forwarder writes for Expect: 100-continue, as HTTP/1.1 bytes.
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
# aiohttp's default for a request body reader (its buffer limits only matter for pausing, unused here).
_READ_LIMIT: Final = 2**16


class StreamSink(Protocol):
    """What a stream needs from its connection (ingressctl.server.h2_connection)."""

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None: ...

    async def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool = False) -> None: ...

    def end_stream(self, stream_id: int) -> None: ...

    def reset_stream(self, stream_id: int, error_code: int) -> None: ...

    def acknowledge(self, stream_id: int, size: int) -> None: ...

    def stream_open(self, stream_id: int) -> bool: ...

    async def writable(self) -> None: ...

    def extra_info(self, name: str, default: object = None) -> object: ...


class StreamFlow:
    """The per-stream stand-in for aiohttp's connection protocol: what BaseRequest reads of it
    (peer, TLS context, transport) and what StreamReader calls (pause/resume, never needed: the
    window bounds the buffer)."""

    __slots__ = ("max_field_size", "max_headers", "peername", "sink", "sockname", "ssl_context", "transport")

    def __init__(self, sink: StreamSink, stream_id: int, peername: PeerName, ssl_context: TLSContext) -> None:
        self.sink = sink
        self.peername = peername
        self.sockname = sink.extra_info("sockname")
        self.ssl_context = ssl_context
        self.transport = StreamTransport(sink, stream_id)
        self.max_field_size = 16384
        self.max_headers = 128

    @property
    def connected(self) -> bool:
        return not self.transport.is_closing()

    def pause_reading(self) -> None:
        return None

    def resume_reading(self, resume_parser: bool = True) -> None:
        return None


class StreamTransport(asyncio.Transport):
    """`request.transport` for a request carried by an HTTP/2 stream."""

    __slots__ = ("_sink", "_stream_id")

    def __init__(self, sink: StreamSink, stream_id: int) -> None:
        super().__init__()
        self._sink = sink
        self._stream_id = stream_id

    def get_extra_info(self, name: str, default: object = None) -> object:
        if name == "socket":
            return default  # a multiplexed connection's socket is no stream's to splice into
        return self._sink.extra_info(name, default)

    def is_closing(self) -> bool:
        return not self._sink.stream_open(self._stream_id)

    def abort(self) -> None:
        # CANCEL (0x8): the response cannot be finished (the backend failed mid-body).
        self._sink.reset_stream(self._stream_id, 0x8)

    def close(self) -> None:
        self.abort()

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None


class StreamBody(StreamReader):
    """A request body: bytes the proxy has read are granted back to the client as window;
    `trailers`: the request's trailer fields once the body has ended with them (proxy/trailers.py)."""

    __slots__ = ("_ack", "trailers")

    def __init__(self, flow: StreamFlow, ack: Callable[[int], None], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(flow, _READ_LIMIT, loop=loop)  # type: ignore[arg-type]
        self._ack = ack
        self.trailers: list[tuple[str, str]] = []

    def _read_nowait_chunk(self, n: int) -> bytes:
        data = super()._read_nowait_chunk(n)
        if data:
            self._ack(len(data))
        return data


class StreamWriter(AbstractStreamWriter):
    """aiohttp's payload writer for one stream: HEADERS, DATA within the windows, trailers."""

    def __init__(self, sink: StreamSink, stream_id: int, head_only: bool) -> None:
        self._sink = sink
        self._stream_id = stream_id
        self._head_only = head_only  # HEAD: the head says what a GET would send, no body follows
        self._pending: list[tuple[bytes, bytes]] | None = None
        self._trailers: list[tuple[bytes, bytes]] = []
        self.head_sent = False
        self.ended = False
        self.status = 0
        self.buffer_size = 0
        self.output_size = 0
        self.length: int | None = None

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        self.status = int(status_line.split(" ", 2)[1])
        self._pending = response_fields(self.status, headers.items())

    def send_headers(self) -> None:
        pending = self._pending
        if pending is not None and not self.head_sent:
            self._pending = None
            self.head_sent = True
            self._sink.send_headers(self._stream_id, pending, False)

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if not chunk:
            return
        if not self.head_sent and self._pending is None and bytes(chunk) == _CONTINUE:
            # The forwarder's Expect: 100-continue answer: an interim HEADERS frame in HTTP/2.
            self._sink.send_headers(self._stream_id, [(b":status", b"100")], False)
            return
        self.send_headers()
        if self._head_only or self.ended:
            return
        self.output_size += len(chunk)
        await self._sink.send_data(self._stream_id, bytes(chunk) if isinstance(chunk, bytearray) else chunk)

    def set_trailers(self, trailers: Sequence[tuple[str, str]]) -> None:
        """Trailers to end the stream with (gRPC's grpc-status and metadata), sent by write_eof."""
        self._trailers = [(name.lower().encode("ascii"), value.encode("utf-8")) for name, value in trailers]

    async def write_trailers(self, trailers: Sequence[tuple[str, str]]) -> None:
        """End the response with `trailers` (the body written so far stays as it is)."""
        self.set_trailers(trailers)
        await self.write_eof()

    async def write_eof(self, chunk: bytes = b"") -> None:
        if self.ended:
            return
        if chunk:
            await self.write(chunk)
        self.ended = True
        if not self._sink.stream_open(self._stream_id):
            return
        trailers = self._trailers
        if self._pending is not None and not self.head_sent and not trailers:
            self.send_headers_and_end()
            return
        self.send_headers()
        if trailers:
            self._sink.send_headers(self._stream_id, trailers, True)
        else:
            self._sink.end_stream(self._stream_id)

    def answer_fields(self, fields: list[tuple[bytes, bytes]], status: int) -> None:
        """The whole answer in one HEADERS frame (the proxy's own, made before any head went out)."""
        if self._sink.stream_open(self._stream_id):
            self.ended = self.head_sent = True
            self.status = status
            self._sink.send_headers(self._stream_id, fields, True)

    async def answer(self, request: BaseRequest, response: StreamResponse, grpc_call: bool) -> None:
        """Write `response`, the request handler's answer to `request`."""
        if type(response) is RelayedResponse:
            whole = response.whole(request)
            if whole is not None and await self.answer_whole(response.status, *whole):
                return
        if grpc_call and isinstance(response, ProxyAnswer) and not response.prepared:
            self.answer_grpc(response.status, response.text or "")
            return
        if not response.prepared:
            await response.prepare(request)
        await response.write_eof()

    async def answer_whole(self, status: int, pairs: Sequence[tuple[str, str]], body: bytes) -> bool:
        """A relayed answer whose whole body is at hand (proxy/relayed.py), written without
        aiohttp's response preparation: HEADERS, then the body in DATA frames, END_STREAM on the
        last one. The fields are those aiohttp's path sends (Content-Length and Date added when
        absent). False, with nothing sent, for a Content-Length that is not the body's."""
        fields = whole_fields(status, pairs, len(body))
        if fields is None:
            return False
        self.status = status
        self.head_sent = self.ended = True
        self.output_size = len(body)
        if not body:
            self._sink.send_headers(self._stream_id, fields, True)
            return True
        self._sink.send_headers(self._stream_id, fields, False)
        await self._sink.send_data(self._stream_id, body, end_stream=True)
        return True

    def answer_grpc(self, http_status: int, text: str) -> None:
        """A trailers-only gRPC answer for what the proxy itself would have answered `http_status`."""
        self.answer_fields(grpc.trailers_only(http_status, text), 200)

    def grpc_deadline(self) -> None:
        """grpc-timeout passed: DEADLINE_EXCEEDED, in trailers when the response has started."""
        if self.ended or not self._sink.stream_open(self._stream_id):
            return
        if not self.head_sent:
            self.answer_grpc(504, "deadline exceeded at the proxy")
            return
        self.ended = True
        status = str(grpc.DEADLINE_EXCEEDED).encode()
        self._sink.send_headers(
            self._stream_id, [(b"grpc-status", status), (b"grpc-message", b"deadline exceeded")], True
        )

    def send_headers_and_end(self) -> None:
        """A response without body or trailers: one HEADERS frame with END_STREAM."""
        pending = self._pending or []
        self._pending = None
        self.head_sent = True
        self.ended = True
        self._sink.send_headers(self._stream_id, pending, True)

    async def drain(self) -> None:
        await self._sink.writable()

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        return None  # the proxy passes bodies on as the backend encoded them

    def enable_chunking(self) -> None:
        return None  # DATA frames are the framing


def response_fields(status: int, items: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """`:status` and the fields of an aiohttp response head, as HTTP/2 wants them (lowercase names,
    no connection-specific fields, nor those the Connection field named)."""
    fields = [(b":status", _STATUS.get(status) or str(status).encode("ascii"))]
    names = _field_names
    named: set[bytes] | None = None
    for name, value in items:
        lname = names.get(name)
        if lname is None:
            lname = name.lower().encode("ascii", "replace")
            if len(names) >= _NAMES_KEPT:
                names.clear()
            names[name] = lname
        if lname in _HOP_BY_HOP:
            if lname == b"connection":
                tokens = {token.strip().lower().encode("ascii", "replace") for token in value.split(",")}
                named = tokens if named is None else named | tokens
            continue
        fields.append((lname, value.encode("utf-8", "surrogateescape")))
    if named:
        fields = [field for field in fields if field[0] not in named]
    return fields


def whole_fields(
    status: int, pairs: Sequence[tuple[str, str]], length: int
) -> list[tuple[bytes, bytes]] | None:
    """`response_fields` of a whole answer of `length` body bytes, with the Content-Length and Date
    aiohttp adds when absent (in its order: after the pairs); None when a Content-Length differs."""
    fields = response_fields(status, pairs)
    size = str(length).encode("ascii")
    has_length = has_date = False
    for name, value in fields:
        if name == b"content-length":
            if value != size:
                return None
            has_length = True
        elif name == b"date":
            has_date = True
    if not has_length:
        fields.append((b"content-length", size))
    if not has_date:
        fields.append((b"date", rfc822_formatted_time().encode("ascii")))
    return fields
