"""User regexes: linear-time matching, clear errors, nginx/Traefik-style replacements."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingressctl.routing.userregex import (
    UserRegexError,
    check_replacement,
    check_user_regex,
    check_user_regexes,
    compile_user_regex,
    expand,
    pattern_shape,
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


# --- pattern shapes: one RE2 parse for paths that differ only in their words (the 10,000-path compile)

_PIECES = st.sampled_from(
    [
        "a",
        "b",
        "z",
        "az",
        "0",
        "9",
        "v12",
        "-",
        "/",
        "(",
        ")",
        "|",
        "[",
        "]",
        "^",
        "$",
        ".",
        "*",
        "+",
        "?",
        "}",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_a_pattern_and_its_shape_get_the_same_verdict_from_re2(text: str) -> None:
    pattern = "^/" + text
    assert (check_user_regex(pattern, ignore_case=True) == "") == (
        check_user_regex(pattern_shape(pattern), ignore_case=True) == ""
    )


def test_shapes_collapse_words_but_keep_what_decides_validity() -> None:
    same = pattern_shape("^/api/v1/team3/(items|orders)/([0-9]+)(/|$)(.*)")
    assert same == pattern_shape("^/app/v2/tools/(images|other)/([0-9]+)(/|$)(.*)")
    assert pattern_shape("^/[az-b]") == "^/[az-b]"  # an invalid range stays invalid
    assert pattern_shape("^/x{2000}") == "^/x{2000}"  # repeat counts are not words
    assert pattern_shape(r"^/a\1") == r"^/a\1"  # escapes keep the whole pattern


def test_a_refused_path_is_reported_among_many_that_share_a_shape() -> None:
    patterns = [f"^/api/v{i}/(.*)" for i in range(50)] + ["^/api/v1/[z-a]"]
    problems = check_user_regexes(patterns, ignore_case=True)
    assert list(problems) == ["^/api/v1/[z-a]"]
