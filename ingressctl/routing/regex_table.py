"""Matching the regex routes of one host the way ingress-nginx orders its `location ~*` blocks.

ingress-nginx (user guide, "Ingress Path Matching"): when `use-regex` or `rewrite-target` is set on
any Ingress of a host, every path of that host becomes `location ~* "^PATH"` (case-insensitive,
anchored at the start only); the locations are written longest path first (equal lengths: the
path that sorts last first, as its controller sorts them) and nginx takes the first regex that
matches. So does this module, without trying every regex per request: each pattern's literal
prefix (the text before its first metacharacter) indexes it, so a request only tries the
patterns whose literal prefix it starts with, in that order. Patterns compile on first use (RE2,
linear time): a table of 10,000 regex routes builds without compiling any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from ingressctl.model import Match, Route
from ingressctl.routing.userregex import UserRegex, compile_user_regex, pattern_skeleton

# The longest run of ASCII characters that match only themselves: ASCII but for \ . ^ $ | ? * + ( ) [ ] { }.
# Spelt as the ASCII ranges left, not as `[^\\.^$|?*+()\[\]{}\x80-\U0010ffff]`: the same set, but that
# negated class takes ~8 ms to compile, on every start of every command (validate start-up, issue 18).
_LITERAL = re.compile(r"[\x00-\x23\x25-\x27\x2c\x2d\x2f-\x3e\x40-\x5a\x5f-\x7a\x7e\x7f]*")
_QUANTIFIERS = frozenset("?*{")  # a `+` repeats, but needs the character at least once
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Finder = Callable[[str], "Match | None"]


def regex_order(route: Route) -> tuple[int, int, tuple[int, ...]]:
    """ingress-nginx's order of a host's regex locations: longest path first, then the path that
    sorts last (sort.SliceStable by path descending, then by length descending)."""
    return (-route.priority, -len(route.path), tuple(-ord(c) for c in route.path))


def _descending_key(route: Route) -> tuple[int, int, str]:
    return (route.priority, len(route.path), route.path)


def literal_prefix(path: str) -> str:
    """The lower-cased text every match of `"^" + path` starts with ("" when nothing is certain:
    an alternation can match anywhere, as nginx's `^a|b` does)."""
    if "|" in path and _top_level_alternation(path):
        return ""
    literal = _LITERAL.match(path)
    text = literal.group(0) if literal is not None else ""
    if text and path[len(text) : len(text) + 1] in _QUANTIFIERS:
        text = text[:-1]  # `/ab?`: the `b` is optional
    return text.translate(_ASCII_LOWER)


_INNERMOST_GROUP = re.compile(r"\([^()]*\)")


def _top_level_alternation(path: str) -> bool:
    """A `|` outside every group and class: `^a|b` matches `b` anywhere, as nginx reads it."""
    skeleton = pattern_skeleton(path)
    while "(" in skeleton:
        # Groups removed from the innermost out; an unbalanced `(` (RE2 refuses it) ends the loop.
        skeleton, removed = _INNERMOST_GROUP.subn("", skeleton)
        if not removed:
            break
    # What is left before an unclosed `(` is at the top level (a stray `)` closes nothing).
    return "|" in skeleton.split("(", 1)[0]


@lru_cache(maxsize=65536)
def location_regex(pattern: str) -> UserRegex:
    """The compiled `"^" + path` of a route (validated at compile time, so it compiles)."""
    return compile_user_regex(pattern, ignore_case=True)


def regex_route_matches(route: Route, path: str) -> bool:
    """Reference semantics of one regex route (explain and tests rely on it)."""
    assert route.regex is not None
    return location_regex(route.regex.pattern).search(path) is not None


def regex_finder(routes: Sequence[Route], reason: Callable[[Route], str]) -> Finder:
    """The finder of one host bucket whose routes are all regex routes."""
    # regex_order, without building its per-character key: (priority, length, path) descending is
    # the same order, and a reversed sort keeps equal routes in their given order as sorted() does.
    ordered = sorted(routes, key=_descending_key, reverse=True)
    entries = [(Match(route=r, reason=reason(r)), r.regex.pattern if r.regex else "^") for r in ordered]
    by_prefix: dict[str, list[int]] = {}
    for index, route in enumerate(ordered):
        by_prefix.setdefault(literal_prefix(route.path), []).append(index)
    lengths = tuple(sorted({len(p) for p in by_prefix}, reverse=True))
    get = by_prefix.get
    everything = range(len(entries))

    def find(path: str) -> Match | None:
        found: Sequence[int]
        if not path.isascii():
            # RE2 folds some non-ASCII letters onto ASCII ones (K, the Kelvin sign, is k): the
            # lower-cased index cannot vouch for such a path, so every pattern is tried in order.
            found = everything
        else:
            lowered = path.translate(_ASCII_LOWER)
            size = len(lowered)
            collected: list[int] = []
            for length in lengths:
                if length <= size:
                    hit = get(lowered[:length])
                    if hit is not None:
                        collected.extend(hit)
            if len(lengths) > 1:
                collected.sort()
            found = collected
        for index in found:
            match, pattern = entries[index]
            if location_regex(pattern).search(path) is not None:
                return match
        return None

    return find
