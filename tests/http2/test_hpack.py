"""The server's HPACK (ingressctl.server.h2_hpack) against hpack's own coder, which every HTTP/2
client's decoder agrees with: blocks must decode to the fields given, never touch the client's
dynamic table, still signal a table size change; a remembered request block must never be
answered from memory once the table it was decoded with has changed."""

from __future__ import annotations

import hpack
import pytest

from ingressctl.server.h2_hpack import RequestDecoder, ResponseEncoder

FIELDS = [
    (b":status", b"200"),  # a whole static entry
    (b"server", b"nginx/1.22.1"),  # a static name
    (b"date", b"Sun, 06 Dec 2026 20:31:35 GMT"),
    (b"content-type", b"text/plain"),
    (b"content-length", b"100"),
    (b"x-custom", b"caf\xc3\xa9"),  # a literal name, a value Huffman cannot shorten
    (b"www-authenticate", b"Basic"),  # static index 61: an integer past its 4-bit prefix
    (b"x-long", b"v" * 300),  # a length past its 7-bit prefix
    (b":status", b"404"),
]


def test_response_blocks_decode_to_their_fields_and_leave_the_table_empty() -> None:
    encoder = ResponseEncoder()
    decoder = hpack.Decoder()
    for _ in range(3):  # the second and third blocks come from the cache
        block = encoder.encode(FIELDS)
        assert decoder.decode(block, raw=True) == FIELDS
        assert len(decoder.header_table.dynamic_entries) == 0
    assert encoder.encode([(":status", "200"), ("x-text", "é")]) == encoder.encode(
        [(b":status", b"200"), (b"x-text", "é".encode())]
    )


def test_sensitive_fields_stay_never_indexed() -> None:
    encoder = ResponseEncoder()
    encoder.encode([(b"set-cookie", b"a=b")])  # the same field, cached as an ordinary literal
    block = encoder.encode(
        [hpack.NeverIndexedHeaderTuple(b"set-cookie", b"a=b"), (b"authorization", b"x", True)]
    )
    decoded = hpack.Decoder().decode(block, raw=True)
    assert decoded == [(b"set-cookie", b"a=b"), (b"authorization", b"x")]
    assert all(isinstance(field, hpack.NeverIndexedHeaderTuple) for field in decoded)


@pytest.mark.parametrize("size", [0, 100, 8192])
def test_a_new_table_size_is_signalled_at_the_start_of_the_next_block(size: int) -> None:
    encoder = ResponseEncoder()
    encoder.encode(FIELDS)
    encoder.header_table_size = size  # what h2 does on the client's SETTINGS_HEADER_TABLE_SIZE
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = size  # a decoder that got no update would refuse the block
    assert decoder.decode(encoder.encode(FIELDS), raw=True) == FIELDS
    assert decoder.header_table_size == size
    assert decoder.decode(encoder.encode(FIELDS), raw=True) == FIELDS  # signalled once


def test_a_remembered_block_follows_the_dynamic_table() -> None:
    decoder = RequestDecoder()
    client = hpack.Encoder()
    head = [(b":method", b"GET"), (b":path", b"/"), (b"x-a", b"one")]
    first, again = client.encode(head), client.encode(head)
    assert first != again  # x-a entered the table: the next blocks index it
    assert decoder.decode(first, raw=True) == head
    assert decoder.decode(again, raw=True) == head
    assert decoder.decode(again, raw=True) == head  # from memory
    # Index 62 is the newest dynamic entry: once another field enters the table, the same bytes
    # name that field. A stale answer would still say x-a: one.
    decoder.decode(hpack.Encoder().encode([(b"x-b", b"two")]), raw=True)
    assert decoder.decode(again, raw=True) == [(b":method", b"GET"), (b":path", b"/"), (b"x-b", b"two")]


def test_a_remembered_block_is_checked_against_a_lowered_limit() -> None:
    decoder = RequestDecoder()
    block = hpack.Encoder().encode([(b"x-big", b"v" * 200)])
    decoder.decode(block, raw=True)  # x-big enters the table: not remembered
    again = bytes([0x80 | 62])  # the same field, indexed: remembered
    assert decoder.decode(again, raw=True) == [(b"x-big", b"v" * 200)]
    decoder.max_header_list_size = 100  # what h2 does once a lower SETTINGS is acknowledged
    with pytest.raises(hpack.OversizedHeaderListError):
        decoder.decode(again, raw=True)
