"""HPACK for the server side of HTTP/2 at a fraction of hpack's pure-Python cost per request.

hyper-h2 encodes and decodes header blocks with the `hpack` library, one field at a time in Python
(a table search, an integer encoder, Huffman coding, a debug log call or two per field): over a
tenth of the CPU an HTTP/2 request cost the proxy in the h2load benchmark (py-spy). Both classes
here are drop-in subclasses that h2 calls as it calls hpack's own (`H2ServerConnection` installs
them):

- `ResponseEncoder` writes every field as a literal *without indexing* (RFC 7541 6.2.2), the name
  taken from the static table where it is there, or as a fully indexed static entry (`:status:
  200`). No field ever enters the dynamic table, so a field's bytes do not depend on the
  connection's state and are cached process-wide: a response head costs a few dictionary look-ups.
  nginx's HTTP/2 module does the same (static table and literals only); the price is some 40-50
  bytes a response (server, date, content-type, content-length) that a dynamic table would save.
  A change of the client's SETTINGS_HEADER_TABLE_SIZE is still signalled at the start of the next
  block, as RFC 7541 4.2 requires.
- `RequestDecoder` keeps hpack's decoding, and remembers the blocks that left the dynamic table as
  it was: a client sending the same head again (all fields indexed, as clients do for repeated
  requests) gets the list decoded before, as long as the table has not changed since.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from hpack import Decoder, Encoder, HeaderTuple
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable

_HUFFMAN: Final = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
# Static table (RFC 7541 Appendix A): the index of each full entry, and of each name's first entry.
_STATIC_FIELDS: Final = {field: i for i, field in reversed(list(enumerate(HeaderTable.STATIC_TABLE, 1)))}
_STATIC_NAMES: Final = {name: i for (name, _), i in reversed(list(_STATIC_FIELDS.items()))}
# Encoded fields kept (process-wide; cleared when full), and the longest field worth keeping.
_CACHE_ENTRIES: Final = 4096
_CACHE_FIELD_BYTES: Final = 512
_encoded: dict[tuple[bytes, bytes], bytes] = {}

Field = tuple[bytes | str, bytes | str] | tuple[bytes | str, bytes | str, bool]


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 5.1) with the high bits `first` in its first octet."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    """An HPACK string literal (RFC 7541 5.2), Huffman-coded when that is shorter."""
    coded = _HUFFMAN.encode(data)
    if len(coded) < len(data):
        return _integer(len(coded), 7, 0x80) + coded
    return _integer(len(data), 7, 0) + data


def encode_field(name: bytes, value: bytes, never_indexed: bool = False) -> bytes:
    """One field without touching the dynamic table: indexed when the static table has it whole,
    otherwise a literal without indexing (or never indexed), its name indexed where it can be."""
    if not never_indexed:
        whole = _STATIC_FIELDS.get((name, value))
        if whole is not None:
            return _integer(whole, 7, 0x80)
    first = 0x10 if never_indexed else 0x00
    named = _STATIC_NAMES.get(name)
    if named is not None:
        return _integer(named, 4, first) + _string(value)
    return bytes((first,)) + _string(name) + _string(value)


def _as_bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


class ResponseEncoder(Encoder):
    """hpack's Encoder as h2 uses it, writing no field into the dynamic table (see the module)."""

    def encode(  # type: ignore[override]
        self, headers: Iterable[Field] | dict[bytes | str, bytes | str], huffman: bool = True
    ) -> bytes:
        if isinstance(headers, dict):
            return super().encode(headers, huffman)  # h2 never passes one; hpack orders its fields
        parts: list[bytes] = []
        table = self.header_table
        if table.resized:
            # RFC 7541 4.2: the new maximum (the client's SETTINGS_HEADER_TABLE_SIZE) is
            # acknowledged at the start of the next block; the table itself stays empty.
            parts.extend(_integer(size, 5, 0x20) for size in self.table_size_changes)
            self.table_size_changes = []
            table.resized = False
        cache = _encoded
        for field in headers:
            kind = type(field)
            plain = kind is tuple or kind is HeaderTuple  # NeverIndexedHeaderTuple compares equal too
            if plain:
                found = cache.get(field)  # type: ignore[arg-type]
                if found is not None:
                    parts.append(found)
                    continue
            name, value = _as_bytes(field[0]), _as_bytes(field[1])
            # hpack's forms of a sensitive field: NeverIndexedHeaderTuple, or (name, value, True).
            if isinstance(field, HeaderTuple):
                never = not field.indexable
            else:
                never = len(field) > 2 and bool(field[2])
            encoded = encode_field(name, value, never)
            if plain and not never and len(name) + len(value) <= _CACHE_FIELD_BYTES:
                if len(cache) >= _CACHE_ENTRIES:
                    cache.clear()
                cache[(name, value)] = encoded
            parts.append(encoded)
        return b"".join(parts)


class _CountedTable(HeaderTable):
    """hpack's table, counting the changes to its entries and size (what a cached block depends on)."""

    def __init__(self) -> None:
        super().__init__()
        self.changes = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.changes += 1
        super().add(name, value)

    @property
    def maxsize(self) -> int:
        return HeaderTable.maxsize.fget(self)  # type: ignore[attr-defined,no-any-return]

    @maxsize.setter
    def maxsize(self, newmax: int) -> None:
        self.changes += 1
        HeaderTable.maxsize.fset(self, newmax)  # type: ignore[attr-defined]


# Header blocks remembered per connection (their decoded lists are shared, never changed by h2).
_BLOCKS_KEPT: Final = 8


class RequestDecoder(Decoder):
    """hpack's Decoder, answering a block seen before from memory while the dynamic table (and the
    limits a decoded list was checked against) are those it was decoded with."""

    def __init__(self) -> None:
        super().__init__()
        self.header_table = _CountedTable()
        self._blocks: dict[bytes, tuple[tuple[int, int, int, bool], list[HeaderTuple]]] = {}

    def decode(self, data: bytes, raw: bool = False) -> list[HeaderTuple]:
        table = self.header_table
        assert isinstance(table, _CountedTable)
        state = (table.changes, self.max_header_list_size, self.max_allowed_table_size, raw)
        key = data if type(data) is bytes else bytes(data)
        known = self._blocks.get(key)
        if known is not None and known[0] == state:
            return known[1]
        headers = list(super().decode(key, raw))
        if table.changes == state[0]:  # the block left the table as it was: it decodes the same again
            blocks = self._blocks
            if len(blocks) >= _BLOCKS_KEPT:
                blocks.clear()
            blocks[key] = (state, headers)
        return headers
