"""User regexes: linear-time matching, clear errors, nginx/Traefik-style replacements."""

from __future__ import annotations

import pytest

from ingressctl.routing.userregex import (
    UserRegexError,
    check_replacement,
    compile_user_regex,
    expand,
)


def test_replacement_expands_numbered_and_named_groups() -> None:
    regex = compile_user_regex(r"^/api/(?P<ver>v\d+)/(.*)")
    match = regex.search("/api/v2/users/7")
    assert match is not None
    assert expand(match, "/${ver}/$2?from=$1") == "/v2/users/7?from=v2"


def test_unmatched_group_expands_to_nothing() -> None:
    regex = compile_user_regex(r"^/a(/.*)?$")
    match = regex.search("/a")
    assert match is not None
    assert expand(match, "/b$1") == "/b"


def test_back_references_are_refused_with_a_reason() -> None:
    with pytest.raises(UserRegexError, match="back-references"):
        compile_user_regex(r"(a)\1")


def test_replacement_naming_a_missing_group_is_reported() -> None:
    regex = compile_user_regex(r"^/a/(.*)")
    assert "has 1 group" in check_replacement(regex, "/b/$2")
    assert "no group named" in check_replacement(regex, "/b/${x}")
    assert check_replacement(regex, "/b/$1") == ""


def test_ignore_case() -> None:
    assert compile_user_regex("^/Docs", ignore_case=True).search("/docs/x") is not None
    assert compile_user_regex("^/Docs").search("/docs/x") is None


def test_catastrophic_pattern_is_linear() -> None:
    # (a+)+$ backtracks exponentially in Python's re: on this input it would not finish before the
    # test's timeout (pytest-timeout), whereas RE2 answers at once.
    regex = compile_user_regex(r"^(a+)+$")
    assert regex.search("a" * 100_000 + "!") is None
    assert regex.search("a" * 100_000) is not None
