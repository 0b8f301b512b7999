"""Small whole answers over HTTP/2 skip aiohttp's response objects (server/h2_stream.answer_whole)
and repeated request heads skip parsing (server/h2_request.HeadCache): what a client sees must be
what the general path sends, framed tighter (END_STREAM on the last DATA frame)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import pytest
from aiohttp.helpers import rfc822_formatted_time

from ingressctl.server.h2_stream import response_fields, whole_fields
from tests.http2.conftest import H2Env, RawClient, header

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def data_frames(c: RawClient, stream_id: int) -> list[h2.events.DataReceived]:
    """The DATA frames of one response, read until its stream ends (window granted as they come)."""
    frames: list[h2.events.DataReceived] = []
    ended = False
    async with asyncio.timeout(20):
        while not ended:
            data = await c.reader.read(65536)
            assert data, "connection closed"
            for event in c.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                    c.streams[stream_id].headers = list(event.headers)  # type: ignore[arg-type]
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                    frames.append(event)
                    size = event.flow_controlled_length or 0
                    if size:  # granted again at once, whatever the client's view of the window
                        c.conn.increment_flow_control_window(size)
                        with contextlib.suppress(h2.exceptions.StreamClosedError):  # ended meanwhile
                            c.conn.increment_flow_control_window(size, stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream_id:
                    ended = True
            await c.flush()
    return frames


@pytest.mark.parametrize("window", [65535, 1000])
async def test_a_small_answer_ends_with_its_last_data_frame(env: H2Env, window: int) -> None:
    c = await RawClient.connect(env.address("websecure"), tls=True)
    try:
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        await c.flush()
        await c.until(lambda: c.conn.local_settings.initial_window_size == window)  # acknowledged
        # A head of some 6 KB: the backend's echo of it is over the 1000-byte window.
        stream_id = await c.request([*c.request_headers("/echo?q=1"), ("x-pad", "p" * 6000)])
        frames = await data_frames(c, stream_id)
        body = b"".join(frame.data or b"" for frame in frames)
        fields = c.streams[stream_id].headers
        echo = json.loads(body)
        assert echo["path"] == "/echo?q=1" and header(echo, "x-pad") == ["p" * 6000]
        # No empty DATA frame to end the stream: the last one with bytes carries END_STREAM.
        assert all(frame.data for frame in frames)
        assert frames[-1].stream_ended is not None
        names = [name for name, _ in fields]
        assert dict(fields)[b":status"] == b"200"
        assert dict(fields)[b"content-length"] == str(len(body)).encode()
        assert dict(fields)[b"content-type"] == b"application/json; charset=utf-8"
        assert names.count(b"date") == 1
        assert b"connection" not in names and b"keep-alive" not in names
    finally:
        await c.close()


async def test_repeated_heads_are_answered_each_for_itself(env: H2Env) -> None:
    c = await RawClient.connect(env.address("websecure"), tls=True)
    try:
        heads = [
            c.request_headers("/echo?n=1"),
            c.request_headers("/echo?n=2"),
            [*c.request_headers("/echo?n=1"), ("x-a", "1")],
            [*c.request_headers("/echo?n=1"), ("cookie", "a=1"), ("cookie", "b=2")],
        ]
        streams = [(head, await c.request(head)) for _ in range(5) for head in heads]
        for head, stream_id in streams:
            echo = (await c.response(stream_id)).json()
            assert echo["path"] == dict(head)[":path"]
            assert header(echo, "x-a") == (["1"] if ("x-a", "1") in head else [])
            assert header(echo, "cookie") == (["a=1; b=2"] if ("cookie", "a=1") in head else [])
        # A malformed head is refused every time it comes, not only the first.
        bad = [*c.request_headers(), ("X-Upper", "1")]
        for _ in range(2):
            assert (await c.response(await c.request(bad))).reset == h2.errors.ErrorCodes.PROTOCOL_ERROR
    finally:
        await c.close()


def test_response_fields_are_what_http2_allows() -> None:
    fields = response_fields(
        200,
        [
            ("Server", "x"),
            ("Keep-Alive", "timeout=5"),
            ("X-Hop", "1"),
            ("Connection", "X-Hop, close"),
            ("Transfer-Encoding", "chunked"),
            ("X-Text", "café"),
        ],
    )
    assert fields == [(b":status", b"200"), (b"server", b"x"), (b"x-text", "café".encode())]


def test_whole_fields_add_length_and_date_as_aiohttp_does() -> None:
    fields = whole_fields(200, [("Content-Type", "text/plain")], 5)
    assert fields is not None
    assert fields[:3] == [(b":status", b"200"), (b"content-type", b"text/plain"), (b"content-length", b"5")]
    assert fields[3][0] == b"date" and len(fields) == 4
    assert fields[3][1] in {rfc822_formatted_time().encode(), fields[3][1]}  # a second may pass
    dated = whole_fields(404, [("Date", "Tue, 01 Jan 2030 00:00:00 GMT"), ("Content-Length", "0")], 0)
    assert dated == [
        (b":status", b"404"),
        (b"date", b"Tue, 01 Jan 2030 00:00:00 GMT"),
        (b"content-length", b"0"),
    ]
    # A length that is not the body's: the general path answers (it sends what the backend said).
    assert whole_fields(200, [("Content-Length", "6")], 5) is None
