"""IC310: paths written as regular expressions or globs for another controller; IC311: rules
without paths.

ingress-nginx (`use-regex`, `rewrite-target` capture groups) and GCE (`/*`) read such paths as
patterns; the Ingress specification, and ingressctl, match them as literal text, so the route
silently matches nothing real.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Severity
from ingressctl.routing.nginx_paths import REWRITE_TARGET, USE_REGEX

_REGEX_CHARS = re.compile(r"[()|$^+?\[\]{}\\]|\.\*")


def _literal_prefix(path: str) -> str:
    """The part of `path` before its first pattern character, without a dangling `/`."""
    match = _REGEX_CHARS.search(path)
    star = path.find("*")
    cut = min(i for i in (match.start() if match else len(path), star if star >= 0 else len(path)))
    prefix = path[:cut].rstrip("/")
    return prefix or "/"


def _regex_hosts(ctx: LintContext) -> set[str]:
    """Hosts whose paths are regular expressions (ingress-nginx use-regex or rewrite-target on any of
    their Ingresses): their paths are matched as patterns, as written (routing/nginx_paths.py)."""
    hosts: set[str] = set()
    for ingress in ctx.served_ingresses():
        annotations = ingress.meta.annotations
        if REWRITE_TARGET in annotations or annotations.get(USE_REGEX, "").strip().lower() in (
            "true",
            "1",
            "t",
        ):
            hosts.update((rule.host or "").strip().lower() for rule in ingress.rules)
    return hosts


def check_pattern_paths(ctx: LintContext) -> Iterator[Diagnostic]:
    regex_hosts = _regex_hosts(ctx)
    for ingress in ctx.served_ingresses():
        for rule in ingress.rules:
            if (rule.host or "").strip().lower() in regex_hosts:
                continue
            for path in rule.paths:
                text = path.path
                if not text:
                    continue
                if _REGEX_CHARS.search(text):
                    kind = "a regular expression (ingress-nginx use-regex style)"
                elif "*" in text:
                    kind = "a glob (GCE style)"
                else:
                    continue
                yield Diagnostic(
                    code="IC310",
                    severity=Severity.WARNING,
                    message=(
                        f"{ingress.ref}: path {text} looks like {kind}; ingressctl matches paths literally, "
                        "so requests only match that exact text"
                    ),
                    location=path.location or rule.location or ingress.meta.location,
                    hint=f"write path: {_literal_prefix(text)} with pathType: Prefix, or set "
                    f'{USE_REGEX}: "true" to match it as a regular expression as ingress-nginx does',
                    object=ingress.ref,
                )


def check_rules_without_paths(ctx: LintContext) -> Iterator[Diagnostic]:
    for ingress in ctx.served_ingresses():
        for index, rule in enumerate(ingress.rules):
            if rule.paths:
                continue
            host = rule.host or "every host"
            yield Diagnostic(
                code="IC311",
                severity=Severity.WARNING,
                message=(
                    f"{ingress.ref}: the rule for {host} has no http.paths, so it routes nothing; "
                    "its requests go to other rules, a defaultBackend, or get 404"
                ),
                location=rule.host_location or rule.location or ingress.meta.location,
                hint=f"add http.paths to spec.rules[{index}], or remove the rule",
                object=ingress.ref,
            )
