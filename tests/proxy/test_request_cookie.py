"""request_cookie(request, name) gives what aiohttp's request.cookies.get(name) gives, for browser-form
Cookie headers (its own fast split) and for everything else (aiohttp's parser)."""

from __future__ import annotations

import random

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from ingressctl.proxy.cookies import request_cookie

NAMES = ("route", "Route", "route2", "a", "_sticky-1", "path", "x.y")
HEADERS = (
    "",
    "route=abc",
    "route=abc; other=1",
    "other=1; route=abc",
    "other=1;route=abc",
    "other=1;   route=abc",
    "route=abc; route=def",  # repeated: the last wins
    "route=",
    "route=a=b==",
    "xroute=abc; routex=1",
    "route = abc",
    'route="abc"',
    'route="a\\"b"; x=1',
    "route=abc def",
    "route=abc,def",
    "route=abc; ",
    " route=abc",
    "route=abc;;x=1",
    "route",
    "route; x=1",
    "path=/; route=1",
    "expires=Mon, 01 Jan 2024 00:00:00 GMT; route=abc",
    "route=\\abc",
    "ro{ute=abc; route=x",
    "rou\tte=1; route=2",
)
ALPHABET = 'route=;  ab"\\,\t{}:._-=xyz01'


def header_request(header: str):  # type: ignore[no-untyped-def]
    headers = CIMultiDict({"Cookie": header}) if header else CIMultiDict()
    return make_mocked_request("GET", "/", headers=headers)


def test_known_headers_agree_with_aiohttp() -> None:
    for header in HEADERS:
        request = header_request(header)
        for name in NAMES:
            assert request_cookie(request, name) == request.cookies.get(name), (header, name)


def random_header(rng: random.Random) -> str:
    """Mostly browser-form pairs, with now and then a character or separator that is not."""
    if rng.random() < 0.2:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 30))).strip()
    pairs = []
    for _ in range(rng.randrange(1, 5)):
        name = rng.choice(("route", "ab", "x", "routes", "r"))
        value = "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randrange(0, 8)))
        pairs.append(f"{name}={value}")
    header = pairs[0]
    for pair in pairs[1:]:
        header += rng.choice(("; ", ";", ";  ", "; ", " ; ", ",", ";\t")) + pair
    return header


VALUE_CHARS = "abc019=-_./+" * 4 + '"\\ ,;{}'


def test_random_headers_agree_with_aiohttp() -> None:
    rng = random.Random(15)
    for _ in range(1500):
        header = random_header(rng)
        request = header_request(header)
        for name in ("route", "ab", "x"):
            assert request_cookie(request, name) == request.cookies.get(name), (header, name)


def test_the_sticky_form_is_found_without_parsing_every_cookie() -> None:
    header = "session=Zm9vYmFy; theme=dark; route=0123456789abcdef; lang=en-GB"
    request = header_request(header)
    assert request_cookie(request, "route") == "0123456789abcdef"
    assert request_cookie(request, "missing") is None


def test_a_header_holding_only_the_sticky_cookie_agrees_with_aiohttp() -> None:
    """`name=value` alone (a client pinned by this one cookie) takes a shortcut past the plain-form
    check: it must give aiohttp's answer for every such header, including the values the shortcut
    leaves to the general path (empty, non-ASCII letters, punctuation) and names that are not tokens."""
    values = ("5c193d338cf3ac5f", "A1", "", "é", "٣", "ab-c", "a.b", "a b", '"ab"', "ab;", "ab=", "ABC123xyz")
    names = ("bench_route", "route", "x.y", "ro{ute", "ro ute", "é")
    for name in names:
        for value in values:
            request = header_request(f"{name}={value}")
            for asked in (name, "route", "other"):
                assert request_cookie(request, asked) == request.cookies.get(asked), (name, value, asked)
