"""Small relayed answers are written by ingressctl.proxy.relayed without aiohttp's preparation: the
client must get what aiohttp's path gives (the same headers, framing and keep-alive), and every
case that path does not cover must still get aiohttp's answer."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http_writer import _serialize_headers
from multidict import CIMultiDict

from ingressctl.proxy.bare import BareResponse
from ingressctl.proxy.relayed import HeadTail, RelayedResponse, serialise_head
from ingressctl.proxy.upstream.parser import parse_head

from .conftest import Backend, BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


def _extra(app: web.Application, state: Backend) -> None:
    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=b"hello", headers={"X-Value": "caf\xe9", "Content-Type": "text/plain"})

    async def dated(request: web.Request) -> web.Response:
        return web.Response(body=b"dated", headers={"Date": "Tue, 01 Jan 2030 00:00:00 GMT"})

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"chunk")
        await resp.write_eof()
        return resp

    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    app.router.add_get("/plain", plain)
    app.router.add_get("/dated", dated)
    app.router.add_get("/chunked", chunked)
    app.router.add_route("*", "/status/{code}", empty)


async def _ask(
    port: int, request: bytes, head_only: bool = False
) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, header pairs, body) of one answer on a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        status = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        pairs = []
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("utf-8").rstrip("\r\n").partition(": ")
            pairs.append((name, value))
        length = int(dict((k.lower(), v) for k, v in pairs).get("content-length", "0"))
        body = b"" if head_only else await reader.readexactly(length)
        return status, pairs, body
    finally:
        writer.close()


def _names(pairs: list[tuple[str, str]]) -> list[str]:
    return [name.lower() for name, _ in pairs]


async def test_small_answer_matches_aiohttps_own_preparation(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=_extra)
    p = await proxy_server([route("r", [b.addr])])
    port = p.ports["web"]
    # HTTP/1.1 keep-alive: the direct path. HTTP/1.0 keep-alive: aiohttp's (it adds Connection).
    fast = await _ask(port, b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n")
    slow = await _ask(port, b"GET /plain HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
    assert fast[0] == "HTTP/1.1 200 OK"
    assert slow[0] == "HTTP/1.0 200 OK"
    # The same headers in the same order (the Date values may be a second apart).
    assert [(n, v if n != "Date" else "") for n, v in slow[1] if n != "Connection"] == [
        (n, v if n != "Date" else "") for n, v in fast[1]
    ]
    assert ("Connection", "keep-alive") in slow[1]
    assert fast[2] == slow[2] == b"hello"
    headers = dict(fast[1])
    assert headers["Content-Length"] == "5"
    assert headers["Content-Type"] == "text/plain"
    assert _names(fast[1]).count("date") == 1


async def test_upstream_date_is_kept_and_chunked_bodies_get_a_length(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=_extra)
    p = await proxy_server([route("r", [b.addr])])
    port = p.ports["web"]
    status, pairs, body = await _ask(port, b"GET /dated HTTP/1.1\r\nHost: a\r\n\r\n")
    assert status == "HTTP/1.1 200 OK" and body == b"dated"
    assert [v for n, v in pairs if n.lower() == "date"] == ["Tue, 01 Jan 2030 00:00:00 GMT"]
    status, pairs, body = await _ask(port, b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n")
    assert body == b"chunk"
    assert dict(pairs)["Content-Length"] == "5"
    assert "transfer-encoding" not in _names(pairs)


@pytest.mark.parametrize(
    ("request_line", "code", "length"),
    [
        ("HEAD /plain HTTP/1.1", "200", "5"),  # no body, the length of the GET's
        ("GET /status/204 HTTP/1.1", "204", None),
        ("GET /status/304 HTTP/1.1", "304", None),
        ("GET /status/404 HTTP/1.1", "404", "0"),
    ],
)
async def test_answers_without_a_body_keep_their_framing(
    backend: BackendFactory, proxy_server: ProxyFactory, request_line: str, code: str, length: str | None
) -> None:
    b = await backend(extra=_extra)
    p = await proxy_server([route("r", [b.addr])])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    try:
        # Two in a row on one connection: the first answer's framing must end where it says.
        for _ in range(2):
            writer.write(f"{request_line}\r\nHost: a\r\n\r\n".encode())
            await writer.drain()
            status = (await reader.readline()).decode()
            assert status.split()[1] == code
            pairs = {}
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.decode().rstrip("\r\n").partition(": ")
                pairs[name.lower()] = value
            assert pairs.get("content-length") == length
            assert "connection" not in pairs
    finally:
        writer.close()


async def test_a_client_closing_gets_connection_close(
    backend: BackendFactory, proxy_server: ProxyFactory
) -> None:
    b = await backend(extra=_extra)
    p = await proxy_server([route("r", [b.addr])])
    reader, writer = await asyncio.open_connection("127.0.0.1", p.ports["web"])
    try:
        writer.write(b"GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()  # the proxy closes after the answer
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.endswith(b"\r\n\r\nhello")


def test_serialised_head_is_aiohttps_and_refuses_what_aiohttp_refuses() -> None:
    pairs = [("Server", "nginx"), ("X-Tab", "a\tb"), ("X-Text", "caf\xe9"), ("Content-Type", "text/plain")]
    head = serialise_head(200, "OK", pairs, 5)
    assert head is not None
    date = rfc822_formatted_time()
    expected = _serialize_headers(
        "HTTP/1.1 200 OK", CIMultiDict([*pairs, ("Content-Length", "5"), ("Date", date)])
    )
    assert head == expected
    # An upstream Date and Content-Length are kept where they are, not added again.
    kept = [("Date", "Tue, 01 Jan 2030 00:00:00 GMT"), ("Content-Length", "5")]
    assert serialise_head(200, "OK", kept, 5) == _serialize_headers("HTTP/1.1 200 OK", CIMultiDict(kept))
    assert serialise_head(200, "OK", [("Content-Length", "6")], 5) is None
    for bad in ("a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b", "a\x7fb", "a\x1bb"):
        assert serialise_head(200, "OK", [("X-Bad", bad)], 0) is None, repr(bad)
        with pytest.raises(ValueError):
            _serialize_headers("HTTP/1.1 200 OK", CIMultiDict([("X-Bad", bad)]))
    assert serialise_head(200, "OK", [("X-Bad\r\nX-Evil", "1")], 0) is None
    assert serialise_head(200, "O\x01K", [], 0) is None


def test_a_head_serialised_again_is_the_same_and_one_without_its_date_gets_the_clocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    date = ("Date", "Mon, 07 Dec 2026 02:00:00 GMT")
    pairs = [("Server", "nginx"), date, ("Content-Length", "5")]
    first = serialise_head(200, "OK", pairs, 5, True)
    assert first == _serialize_headers("HTTP/1.1 200 OK", CIMultiDict(pairs))
    assert serialise_head(200, "OK", list(pairs), 5, False) == first
    # Any other status, reason, length or pair is another head.
    assert serialise_head(404, "OK", pairs, 5) == first.replace(b" 200 ", b" 404 ", 1)
    assert serialise_head(200, "Fine", pairs, 5) == first.replace(b" OK", b" Fine", 1)
    assert serialise_head(200, "OK", pairs, 6) is None
    assert serialise_head(200, "OK", [*pairs, ("X-A", "1")], 5) == first[:-2] + b"X-A: 1\r\n\r\n"
    assert serialise_head(200, "OK", [*pairs, ("X-A", "1\r\nX-B: 2")], 5) is None
    # A head the Date is added to carries the clock's at each call.
    clock = iter(["Mon, 07 Dec 2026 02:00:01 GMT", "Mon, 07 Dec 2026 02:00:02 GMT"])
    monkeypatch.setattr("ingressctl.proxy.relayed.rfc822_formatted_time", lambda: next(clock))
    without = [("Server", "nginx"), ("Content-Length", "5")]
    assert b"Date: Mon, 07 Dec 2026 02:00:01 GMT\r\n" in (serialise_head(200, "OK", without, 5) or b"")
    assert b"Date: Mon, 07 Dec 2026 02:00:02 GMT\r\n" in (serialise_head(200, "OK", without, 5) or b"")


def test_a_prepared_tail_gives_the_same_head_and_only_where_it_is_the_tail() -> None:
    date = ("Date", "Mon, 07 Dec 2026 02:00:00 GMT")  # (present: no clock in the comparison)
    upstream = [("Content-Type", "text/plain"), date]
    added = [("X-Frame-Options", "DENY"), ("X-Served-By", "ingressctl")]
    tail = HeadTail(added)
    for pairs in ([*upstream, *added], [*added, *upstream], [*upstream, added[1], added[0]], [date, *added]):
        expected = _serialize_headers("HTTP/1.1 200 OK", CIMultiDict(pairs))
        expected = expected[:-2] + b"Content-Length: 5\r\n\r\n"
        for clean in (True, False):
            assert serialise_head(200, "OK", pairs, 5, clean) == expected
            assert serialise_head(200, "OK", pairs, 5, clean, tail) == expected
    # The control search still covers the tail's text when the head is not known to be clean.
    bad = [("X-Bad", "a\r\nSet-Cookie: x=1")]
    assert serialise_head(200, "OK", [*upstream, *bad], 5, False, HeadTail(bad)) is None
    with pytest.raises(ValueError):
        HeadTail([("Content-Length", "5")])


@pytest.mark.parametrize(
    ("status", "reason", "body"),
    [(200, "OK", b"hello"), (404, "Not Found", b""), (204, "", None), (599, "Custom \xe9", b"x" * 70000)],
)
def test_a_relayed_response_is_built_as_aiohttps_response_would_be(
    status: int, reason: str, body: bytes | None
) -> None:
    pairs = [("Content-Type", "text/plain")]
    fast = RelayedResponse(status, reason, pairs, body)
    # Built through web.Response.__init__ (RelayedResponse skips it): the same state, attribute for
    # attribute, so whatever aiohttp does with the response afterwards sees no difference.
    slow = BareResponse(status=status, reason=reason, body=body)
    assert type(fast._headers) is type(slow._headers)
    assert {k: v for k, v in vars(fast).items() if k != "_headers"} == {
        k: v for k, v in vars(slow).items() if k != "_headers"
    }
    assert list(fast.headers.items()) == pairs
    assert (fast.status, fast.reason, fast.body) == (slow.status, slow.reason, slow.body)
    with pytest.raises(ValueError, match="Reason"):
        RelayedResponse(200, "OK\r\nX: y", pairs, body)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 5",
        b"HTTP/1.1 200 \xc3\xa9t\xe9\r\nX-Tab: a\tb\r\nX-Obs: caf\xe9 \x80\x9f\xff\r\nDate: x",
        b"HTTP/1.1 404\r\nX-Empty: \r\nX-Symbols: !#$%&'*+-.^_`|~",
    ],
)
def test_what_the_upstream_parser_accepts_needs_no_second_control_check(head: bytes) -> None:
    # A plain route's answer skips serialise_head's control-character search (clean=True): the
    # strict parser's output must be what that search would have let through anyway.
    parsed = parse_head(head)
    checked = serialise_head(parsed.status, parsed.reason, parsed.headers, 5)
    assert checked is not None
    assert serialise_head(parsed.status, parsed.reason, parsed.headers, 5, clean=True) == checked


@pytest.mark.parametrize("bad", [b"X: a\rb", b"X: a\x00b", b"X: a\x7fb", b"X\x01: a", b"X: a\x1bb"])
def test_the_upstream_parser_refuses_the_controls_the_check_would_refuse(bad: bytes) -> None:
    with pytest.raises(ValueError):
        parse_head(b"HTTP/1.1 200 OK\r\n" + bad)
