"""ingress-nginx regex hosts: use-regex or rewrite-target on any Ingress of a host makes every path
of that host a regular expression (routing/nginx_paths.py)."""

from __future__ import annotations

from ingressctl.model import Diagnostic, HostKind
from ingressctl.routing.candidates import Candidate
from ingressctl.routing.nginx_paths import PatternChecks, regex_path, rewrite_group_warning


def regex_hosts(candidates: list[Candidate]) -> tuple[list[Candidate], list[Diagnostic]]:
    """The candidates with `regex` set on those of regex hosts (and cleared on the others), and the
    findings. Paths RE2 refuses are not routed."""
    sources: dict[tuple[HostKind, str], str] = {}
    for candidate in candidates:
        regex = candidate.annotations.regex
        if regex is not None and regex.makes_regex:
            bucket = (candidate.host_kind, candidate.host or "")
            what = "use-regex" if regex.use_regex else "rewrite-target"
            sources.setdefault(bucket, f"{what} on {candidate.ingress.ref}")
    if not sources:
        for candidate in candidates:
            candidate.regex = None
        return candidates, []
    found: list[Diagnostic] = []
    checks = PatternChecks([c.path for c in candidates if (c.host_kind, c.host or "") in sources])
    kept: list[Candidate] = []
    for candidate in candidates:
        source = sources.get((candidate.host_kind, candidate.host or ""))
        if source is None:
            candidate.regex = None
            kept.append(candidate)
            continue
        own = candidate.annotations.regex
        candidate.regex, problem = regex_path(candidate.ingress, candidate.path, own, source, checks)
        if problem is not None:
            found.append(problem)
            continue
        if own is not None and own.rewrite_target is not None:
            warning = rewrite_group_warning(candidate.ingress, candidate.path, own.rewrite_target)
            if warning is not None:
                found.append(warning)
        kept.append(candidate)
    return kept, found
