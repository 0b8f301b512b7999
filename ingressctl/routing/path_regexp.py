"""Traefik's `PathRegexp` paths (router.pathmatcher: PathRegexp) beside a host's other paths.

Traefik v3 turns such a path into `PathRegexp(`PATH`)`: Go's regexp searched in the request path
(not anchored unless the pattern says `^`/`$`; case-sensitive). Unlike ingress-nginx's use-regex
(routing/regex_table.py) only these paths are regexes; the host's Exact, Prefix and
ImplementationSpecific paths keep their meaning. Precedence stays ingressctl's: higher priority
first, then the longer path (a regex counts as its pattern's length), and at equal length a
non-regex path wins. Patterns are RE2 (routing/userregex.py): linear time, checked at compile time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from ingressctl.model import Diagnostic, Ingress, Match, PathType, RegexPath, Route, Severity
from ingressctl.routing import codes
from ingressctl.routing.annotations_rewrites import PATH_MATCHER
from ingressctl.routing.candidates import Candidate
from ingressctl.routing.paths import match_length
from ingressctl.routing.report import annotation_location, finding
from ingressctl.routing.userregex import UserRegex, check_user_regex, compile_user_regex

Finder = Callable[[str], "Match | None"]

RANK = 3  # after Exact (0), Prefix (1) and ImplementationSpecific (2) of the same length


@lru_cache(maxsize=16384)
def path_regex(pattern: str) -> UserRegex:
    """The compiled pattern (validated at compile time, so it compiles)."""
    return compile_user_regex(pattern)


def is_path_regexp(route: Route) -> bool:
    return route.regex is not None and route.regex.path_regexp


def path_regexp_matches(route: Route, path: str) -> bool:
    assert route.regex is not None
    return path_regex(route.regex.pattern).search(path) is not None


def path_regexp_order(route: Route) -> tuple[int, int]:
    return (-route.priority, -len(route.path))


def with_path_regexps(base: Finder | None, routes: Sequence[Route], reason: Callable[[Route], str]) -> Finder:
    """A finder that asks `base` (the host's other paths), then the PathRegexp routes that would
    outrank its answer, best first."""
    ordered = sorted(routes, key=path_regexp_order)
    entries = [(Match(route=r, reason=reason(r)), r.priority, len(r.path), r.regex) for r in ordered]

    def find(path: str) -> Match | None:
        hit = base(path) if base is not None else None
        rank = (hit.route.priority, match_length(hit.route.path, hit.route.path_type)) if hit else (0, 0)
        for match, priority, length, regex in entries:
            if hit is not None and rank >= (priority, length):
                break  # every later regex ranks lower still
            assert regex is not None
            if path_regex(regex.pattern).search(path) is not None:
                return match
        return hit

    return find


def path_regexp_path(
    ingress: Ingress, path: str, source_key: str
) -> tuple[RegexPath | None, Diagnostic | None]:
    """The RegexPath of a PathRegexp path, or the error that leaves it unrouted (RE2 refuses it)."""
    problem = check_user_regex(path)
    if problem:
        return None, finding(
            codes.INVALID_PATH,
            Severity.ERROR,
            ingress,
            f"path {path!r} is a PathRegexp ({source_key}) but {problem}; it is not routed",
            "Write the path in RE2 syntax (no back-references or look-around).",
            annotation_location(ingress, source_key),
        )
    return RegexPath(pattern=path, source=f"{source_key} on {ingress.ref}", path_regexp=True), None


def path_regexps(candidates: list[Candidate]) -> tuple[list[Candidate], list[Diagnostic]]:
    """router.pathmatcher PathRegexp: those paths (outside ingress-nginx regex hosts) become regexes;
    a path RE2 refuses is not routed (its finding says why)."""
    kept: list[Candidate] = []
    found: list[Diagnostic] = []
    for candidate in candidates:
        impl = candidate.path_type is PathType.IMPLEMENTATION_SPECIFIC
        if candidate.regex is None and candidate.annotations.path_regexp and impl:
            candidate.regex, problem = path_regexp_path(candidate.ingress, candidate.path, PATH_MATCHER)
            if problem is not None:
                found.append(problem)
                continue
        kept.append(candidate)
    return kept, found
