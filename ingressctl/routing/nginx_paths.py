"""ingress-nginx `use-regex` and `rewrite-target`: which hosts' paths are regular expressions, and
the rewrite of the path sent upstream.

Semantics (ingress-nginx user guide, "Ingress Path Matching" and the annotations page, "Rewrite"):
- `use-regex: "true"` makes the paths case-insensitive regular expressions anchored at the start
  (`location ~* "^PATH"`); `rewrite-target` implies it.
- Either one on ANY Ingress of a host makes EVERY path of that host a regex, whatever Ingress
  declares it (Exact and Prefix paths included: ingress-nginx writes them all as `~* "^PATH"`).
- `rewrite-target: /$2` replaces the whole path sent upstream, `$1`, `$2`... being the groups of
  the declared path (nginx `rewrite "(?i)PATH" TARGET break;`); the query string is kept.
Patterns are RE2 (ingressctl.routing.userregex), as ingress-nginx's own validation demands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model import Diagnostic, Ingress, RegexPath, Severity
from ingressctl.routing import codes
from ingressctl.routing.annotation_values import parse_boolean
from ingressctl.routing.report import annotation_location, finding
from ingressctl.routing.userregex import (
    check_user_regex,
    check_user_regexes,
    pattern_skeleton,
    replacement_references,
)

NGINX = "nginx.ingress.kubernetes.io/"
USE_REGEX = NGINX + "use-regex"
REWRITE_TARGET = NGINX + "rewrite-target"

KNOWN: dict[str, str] = {
    USE_REGEX: "true: every path of the host is a case-insensitive regular expression (RE2) matched "
    "from the start of the path, longest first, first match wins (as ingress-nginx).",
    REWRITE_TARGET: "The path sent upstream, with $1, $2... from the groups of the declared path "
    "(e.g. /$2); implies use-regex for the host (as ingress-nginx).",
}


@dataclass(frozen=True, slots=True)
class RegexAnnotations:
    """What one Ingress says about regex paths."""

    use_regex: bool = False
    rewrite_target: str | None = None

    @property
    def makes_regex(self) -> bool:
        return self.use_regex or self.rewrite_target is not None


def parse_regex_annotations(ingress: Ingress) -> tuple[RegexAnnotations | None, list[Diagnostic]]:
    """The Ingress's use-regex / rewrite-target, or None when it has neither (the usual case)."""
    annotations = ingress.meta.annotations
    raw_regex = annotations.get(USE_REGEX)
    raw_target = annotations.get(REWRITE_TARGET)
    if raw_regex is None and raw_target is None:
        return None, []
    found: list[Diagnostic] = []
    use_regex = False
    if raw_regex is not None:
        parsed = parse_boolean(raw_regex)
        use_regex = bool(parsed)
        if parsed is None:
            found.append(
                _bad(
                    ingress, USE_REGEX, f"{raw_regex!r} is not a boolean; paths stay literal", 'Write "true".'
                )
            )
    target: str | None = None
    if raw_target is not None:
        target = raw_target.strip()
        problem = ""
        if not target:
            problem = "is empty"
        elif "://" in target or target.startswith("$scheme"):
            problem = "is an absolute URL (nginx answers it with a redirect, which ingressctl does not do)"
        elif "?" in target:
            problem = "holds a query string, which ingressctl does not add"
        if problem:
            found.append(
                _bad(
                    ingress,
                    REWRITE_TARGET,
                    f"{raw_target!r} {problem}; the path is sent upstream unchanged",
                    "Write a path such as /$2; use permanent-redirect for redirects.",
                )
            )
            target = None
    result = RegexAnnotations(use_regex=use_regex, rewrite_target=target)
    if not result.makes_regex and raw_target is None:
        return None, found
    return result, found


def regex_path(
    ingress: Ingress, path: str, annotations: RegexAnnotations | None, source: str, checks: PatternChecks
) -> tuple[RegexPath | None, Diagnostic | None]:
    """The RegexPath of a path on a regex host, or the finding that skips it (a pattern RE2 refuses)."""
    problem = checks.problem(path)
    if problem:
        return None, finding(
            codes.INVALID_PATH,
            Severity.ERROR,
            ingress,
            f"path {path!r} is a regular expression here ({source}) but {problem}; it is not routed",
            "Rewrite the path in RE2 syntax (no back-references or look-around), or drop use-regex.",
            annotation_location(
                ingress, USE_REGEX if USE_REGEX in ingress.meta.annotations else REWRITE_TARGET
            ),
        )
    target = annotations.rewrite_target if annotations is not None else None
    return RegexPath(pattern="^" + path, rewrite_target=target, source=source), None


class PatternChecks:
    """RE2's verdict on the regex paths of one compile, checked together (one RE2 Set), and
    remembered across compiles: a reload re-checks only the paths it has not seen."""

    _known: ClassVar[dict[str, str]] = {}  # pattern → problem ("" when fine); bounded below

    def __init__(self, paths: list[str]) -> None:
        fresh = [p for p in dict.fromkeys("^" + path for path in paths) if p not in self._known]
        if fresh:
            if len(self._known) > 200_000:
                self._known.clear()
            problems = check_user_regexes(fresh, ignore_case=True)
            for pattern in fresh:
                self._known[pattern] = problems.get(pattern, "")

    def problem(self, path: str) -> str:
        pattern = "^" + path
        found = self._known.get(pattern)
        if found is None:
            found = self._known[pattern] = check_user_regex(pattern, ignore_case=True)
        return found


def rewrite_group_warning(ingress: Ingress, path: str, target: str) -> Diagnostic | None:
    """A warning when rewrite-target names a group the declared path lacks (nginx sends "")."""
    numbers = [int(ref) for ref in replacement_references(target) if ref.isdigit()]
    if not numbers or (
        max(numbers) <= path.count("(") - path.count("(?") and "\\" not in path and "[" not in path
    ):
        return None  # enough plain groups for every reference (the usual case, decided without a scan)
    groups = capture_groups(path)
    missing = [str(n) for n in numbers if n > groups]
    if not missing:
        return None
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {REWRITE_TARGET}: {target!r} uses ${missing[0]} but path {path!r} has {groups} "
        "group(s); it is replaced by nothing",
        "Add the group to the path, e.g. /api(/|$)(.*) with rewrite-target /$2.",
        annotation_location(ingress, REWRITE_TARGET),
    )


def capture_groups(pattern: str) -> int:
    """How many capturing groups `pattern` has: `(` not escaped, not in a class, not `(?:`/`(?i)`
    (`(?P<name>` counts). Enough to check $N references without compiling the pattern."""
    skeleton = pattern_skeleton(pattern)
    return skeleton.count("(") - skeleton.count("(?") + skeleton.count("(?P<") + skeleton.count("(?<")


def _bad(ingress: Ingress, key: str, message: str, hint: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {key}: {message}",
        hint,
        annotation_location(ingress, key),
    )
