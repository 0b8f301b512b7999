"""validate_host for declared hosts; request Host normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingressctl.routing import normalize_request_host, validate_host
from ingressctl.routing.hosts import _why_invalid


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "a.example.com",
        "*.example.com",
        "xn--bcher-kva.example",
        "a-b.c1.io",
        "localhost",
        "*.io",
    ],
)
def test_valid_hosts(host: str) -> None:
    assert validate_host(host) is None


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ("", "empty"),
        ("*", "alone"),
        ("a.*.example.com", "leftmost"),
        ("*a.example.com", "leftmost"),
        ("foo*.example.com", "leftmost"),
        ("*.", "dot"),
        ("10.0.0.1", "IP address"),
        ("::1", "IP address"),
        ("[::1]", "IP address"),
        ("example.com:80", "port"),
        ("example.com.", "trailing dot"),
        ("-a.example.com", "letters, digits"),
        ("a_b.example.com", "letters, digits"),
        ("a..example.com", "empty label"),
        ("a" * 64 + ".com", "63"),
        (("a" * 60 + ".") * 5 + "com", "253"),
    ],
)
def test_invalid_hosts_say_why(host: str, fragment: str) -> None:
    message = validate_host(host)
    assert message is not None
    assert fragment in message


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="az09-.*:_A[]\n", max_size=24))
def test_the_shortcut_for_usual_hosts_agrees_with_every_check(host: str) -> None:
    # validate_host answers most valid hosts with one regular expression; whatever it says must be
    # what the checks one by one say.
    assert validate_host(host) == _why_invalid(host)


@pytest.mark.parametrize("length", [252, 253, 254, 255])
def test_the_length_limit_holds_for_usual_hosts(length: int) -> None:
    host = ("a" * 63 + ".") * 3 + "b" * (length - 192)
    assert len(host) == length
    assert (validate_host(host) is None) is (length <= 253)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("Example.com.:443", "example.com"),
        ("[::1]:80", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("::1", "::1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("", ""),
    ],
)
def test_request_host_normalisation(raw: str, expected: str) -> None:
    assert normalize_request_host(raw) == expected
