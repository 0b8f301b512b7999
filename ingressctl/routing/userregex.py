"""Regular expressions written by Ingress authors, matched in linear time.

Patterns in annotations (redirect-regex, ReplacePathRegex, ingress-nginx regex paths and
rewrite-target) come from whoever may edit an Ingress. Python's `re` backtracks: `(a+)+$` against a
long path stalls the event loop, and with it every request of every route. RE2 (Google's engine,
the `google-re2` package: maintained, manylinux wheels) matches in time linear in the input, so no
pattern can do that. It refuses what needs backtracking (back-references, look-around); those are
reported at compile time as findings, never at request time.

Replacements use the `$1` / `${1}` / `${name}` spelling of Traefik and nginx.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol


class UserMatch(Protocol):
    def group(self, index: int | str = 0, /) -> str | None: ...

    def start(self, index: int | str = 0, /) -> int: ...

    def end(self, index: int | str = 0, /) -> int: ...


@dataclass(frozen=True, slots=True)
class UserRegex:
    """A compiled user pattern; `source` is what the author wrote."""

    source: str
    compiled: object  # re2._Regexp: the binding ships no type information
    groups: int

    def search(self, text: str) -> UserMatch | None:
        found: UserMatch | None = self.compiled.search(text)  # type: ignore[attr-defined]
        return found

    def match(self, text: str) -> UserMatch | None:
        """Anchored at the start of `text` (as nginx's `location ~` is not: use search for that)."""
        found: UserMatch | None = self.compiled.match(text)  # type: ignore[attr-defined]
        return found


def _re2() -> ModuleType:
    """The RE2 binding, imported on first use: its native library and pattern cache cost the serve
    process about 2.4 MB of resident memory, and most configurations hold no regular expression."""
    return importlib.import_module("re2")


class UserRegexError(ValueError):
    """The pattern cannot be compiled; the message says why, for a finding."""


def compile_user_regex(pattern: str, *, ignore_case: bool = False) -> UserRegex:
    """Compile `pattern` with RE2, or raise UserRegexError with a message fit for a finding."""
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False  # the binding would print to stderr; the caller reports instead
    options.case_sensitive = not ignore_case
    try:
        compiled = re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise UserRegexError(
            f"{pattern!r} is not a regular expression ingressctl can match in linear time ({detail}); "
            "back-references and look-around are not supported"
        ) from None
    return UserRegex(pattern, compiled, int(compiled.groups))


_REFERENCE = re.compile(r"\$(?:\{(\w+)\}|(\d+))")


def replacement_references(replacement: str) -> list[str]:
    """The group references in a `$1` / `${name}` replacement, in order."""
    return [braced or digits for braced, digits in _REFERENCE.findall(replacement)]


def check_replacement(regex: UserRegex, replacement: str) -> str:
    """An error message when `replacement` names a group `regex` does not have, else ""."""
    for ref in replacement_references(replacement):
        if ref.isdigit() and int(ref) > regex.groups:
            return f"{replacement!r} uses ${ref} but {regex.source!r} has {regex.groups} group(s)"
        if not ref.isdigit() and ref not in _group_names(regex):
            return f"{replacement!r} uses ${{{ref}}} but {regex.source!r} has no group named {ref!r}"
    return ""


def expand(match: UserMatch, replacement: str) -> str:
    """`replacement` with `$1`, `${1}` and `${name}` replaced by the match's groups (unmatched: "")."""

    def group(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        key: int | str = int(name) if name.isdigit() else name
        try:
            return match.group(key) or ""
        except (IndexError, KeyError):
            return ""

    return _REFERENCE.sub(group, replacement)


def _group_names(regex: UserRegex) -> frozenset[str]:
    names: dict[str, int] = regex.compiled.groupindex  # type: ignore[attr-defined]
    return frozenset(names)


# An escape, or a bracketed class (RE2 reads a `]` right after `[` or `[^` as a literal).
_ESCAPE_OR_CLASS = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*\]?", re.DOTALL)
# Patterns whose letters and digits outside classes are plain literals: no escapes, no repeat
# counts, no flags or group names, no POSIX classes, ASCII only.
_PLAIN = re.compile(r"[\x20-\x5b\x5d-\x7a|}~]*")
# The letters and digits after the first of a word, except one that starts a class range (`z-a`);
# a range's end follows a `-`, so it is kept as the first of its word.
_WORD_TAIL = re.compile(r"(?<=[A-Za-z0-9_])[A-Za-z0-9_]+(?!-)")


def pattern_skeleton(pattern: str) -> str:
    """`pattern` without its escapes and bracketed classes: what is left of `(`, `)` and `|` is
    structure (groups, alternation), so they can be counted without a character-by-character scan."""
    return _ESCAPE_OR_CLASS.sub("", pattern)


def pattern_shape(pattern: str) -> str:
    """A pattern RE2 accepts exactly when it accepts `pattern`: the words of a plain pattern are cut
    to their first character (a literal for a literal, a class member for a class member, range
    ends kept), so paths that differ only in their text are parsed once. Patterns with escapes,
    `{`, `(?` or `[:` (where letters and digits have meaning) are their own shape."""
    if "(?" in pattern or "[:" in pattern or not _PLAIN.fullmatch(pattern):
        return pattern
    return _WORD_TAIL.sub("", pattern)


def check_user_regexes(patterns: list[str], *, ignore_case: bool = False) -> dict[str, str]:
    """check_user_regex for many patterns at once: pattern → problem, only for the patterns RE2
    refuses. One RE2 Set parses them all, and each pattern shape (pattern_shape) only once: RE2's
    parse costs some 25 µs a pattern, most of a 10,000-path compile."""
    problems: dict[str, str] = {}
    if not patterns:
        return problems
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    probe = re2.Set.SearchSet(options)
    verdicts: dict[str, bool] = {}  # shape → RE2 accepts it
    for pattern in patterns:
        shape = pattern_shape(pattern)
        accepted = verdicts.get(shape)
        if accepted is None:
            try:
                probe.Add(shape)
                accepted = True
            except re2.error:
                accepted = False
            verdicts[shape] = accepted
        if not accepted:
            problems[pattern] = check_user_regex(pattern, ignore_case=ignore_case)
    return problems


def check_user_regex(pattern: str, *, ignore_case: bool = False) -> str:
    """ "" when RE2 accepts `pattern`, else the message compile_user_regex would raise.

    Parsing alone (an RE2 Set's Add) costs a fraction of a full compile: thousands of ingress-nginx
    regex paths are checked at compile time and compiled only when a request needs them.
    """
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    probe = re2.Set.SearchSet(options)
    try:
        probe.Add(pattern)
    except re2.error:
        try:
            compile_user_regex(pattern, ignore_case=ignore_case)
        except UserRegexError as exc:
            return str(exc)
        return f"{pattern!r} is not a regular expression ingressctl can match in linear time"
    return ""
