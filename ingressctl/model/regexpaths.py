"""ingress-nginx regular-expression paths (`use-regex`, `rewrite-target`), as the compiler marks them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegexPath:
    """A route matched the way ingress-nginx writes `location ~* "^PATH"`: the declared path is a
    case-insensitive RE2 pattern searched from the start of the request path, and among the
    regex routes of a host the first in ingress-nginx's order (longest path first) wins."""

    pattern: str  # "^" + the declared path, as nginx's location reads it
    # nginx.ingress.kubernetes.io/rewrite-target: the whole path sent upstream becomes this, with
    # $1, $2... taken from the declared path's groups; None keeps the path.
    rewrite_target: str | None = None
    source: str = ""  # which annotation made the host's paths regex ("use-regex on ns/name", ...)
    # Traefik v3's router.pathmatcher PathRegexp instead: `pattern` is the declared path itself,
    # searched case-sensitively anywhere in the request path; only this path is a regex, beside
    # the host's other paths (ranked by priority, then path length: routing/path_regexp.py).
    path_regexp: bool = False
