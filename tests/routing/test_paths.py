"""canonical_path: what the proxy routes on, and what it refuses with 400."""

from __future__ import annotations

import pytest

from ingressctl.routing import canonical_path
from ingressctl.routing.paths import without_parameters


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        ("/foo", "/foo"),
        ("/foo/", "/foo/"),
        ("/foo//bar", "/foo/bar"),
        ("//foo///bar//", "/foo/bar/"),
        ("/foo/./bar", "/foo/bar"),
        ("/foo/.", "/foo/"),
        ("/foo/..", "/"),
        ("/foo/../bar", "/bar"),
        ("/a/b/../../c", "/c"),
        ("/../../etc/passwd", "/etc/passwd"),  # never above the root
        ("/..", "/"),
        ("/./", "/"),
        ("/.well-known/acme-challenge/x", "/.well-known/acme-challenge/x"),
        ("/foo..bar/..baz", "/foo..bar/..baz"),
        ("/%41%62c", "/Abc"),  # unreserved characters are decoded
        ("/a%7eb%2D", "/a~b-"),
        ("/a%20b", "/a%20b"),  # others are kept, hex upper-cased
        ("/a%3fb", "/a%3Fb"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/%61pi/../admin", "/admin"),
        ("/app;jsessionid=1/x", "/app;jsessionid=1/x"),  # parameters on a name are the name's
        ("/a/..b;x/c", "/a/..b;x/c"),
        ("/a/;x/../b", "/a/b"),
    ],
)
def test_canonical_form(raw: str, expected: str) -> None:
    assert canonical_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/foo%2fbar",
        "/foo%2Fbar",
        "/foo%5cbar",
        "/foo%5Cbar",
        "/foo%00",
        "/%2e%2e/admin",
        "/%2E/x",
        "/.%2e/x",
        "/foo\\bar",
        "/bad%zz",
        "/bad%4",
        "/bad%",
        "foo",
        "*",
        "/a\x00b",
        "/a\nb",
        # Dot segments with path parameters: servlet containers resolve them as `.`/`..`.
        "/public/..;/admin",
        "/public/..;jsessionid=x/admin",
        "/.;/admin",
        "/public/.;x/admin",
        "/public/..;",
        "/public/..%3b/admin",
        "/public/..%3B/admin",
        "/public/.%3bx/admin",
        "/public/%2e%2e;/admin",
        "/public/.%2e;/admin",
        "/public/..;\\admin",
        "/public/..;%5cadmin",
        # Lookalikes some decoders turn into `.`, `/` or `\\`.
        "/public/%c0%ae%c0%ae/admin",
        "/public/%C0%AE./admin",
        "/public/%e0%80%ae%e0%80%ae/admin",
        "/public/..%c0%afadmin",
        "/public/%ef%bc%8e%ef%bc%8e/admin",
        "/public/..%ef%bc%8fadmin",
        "/public/\uff0e\uff0e/admin",
        "/public/..\uff0fadmin",
    ],
)
def test_ambiguous_or_malformed_paths_are_refused(raw: str) -> None:
    assert canonical_path(raw) is None


def test_canonical_path_is_idempotent() -> None:
    for raw in ["/a//b/../c/./d/", "/%41/%7e", "/x/%20/y"]:
        once = canonical_path(raw)
        assert once is not None
        assert canonical_path(once) == once


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/admin;jsessionid=1/x", "/admin/x"),
        ("/a;b;c/d;e", "/a/d"),
        ("/;x/y", "//y"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_without_parameters(path: str, expected: str) -> None:
    assert without_parameters(path) == expected
