"""What every lint rule reads: the snapshot, the compile options, and which Ingresses we serve."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from ingressctl.model import Diagnostic, Ingress, Snapshot
from ingressctl.routing.classes import ClassSelector
from ingressctl.routing.options import CompileOptions


@dataclass(frozen=True)
class LintContext:
    """What every lint check reads: the snapshot, the compile options and the clock."""

    snapshot: Snapshot
    options: CompileOptions
    # The clock for certificate expiry (passed in: the core reads no clock). None: not checked.
    now: datetime.datetime | None = None

    def serves(self, ingress: Ingress) -> bool:
        """Whether ingressctl serves this Ingress: the compiler's own class rules, so both always agree."""
        return ClassSelector(self.snapshot.ingress_classes, self.options).select(ingress) is None

    def served_ingresses(self) -> list[Ingress]:
        return self._served

    @cached_property
    def _served(self) -> list[Ingress]:
        # Every rule asks; the class rules are evaluated once per run.
        selector = ClassSelector(self.snapshot.ingress_classes, self.options)
        return [ingress for ingress in self.snapshot.ingresses if selector.select(ingress) is None]


Rule = Callable[[LintContext], Iterable[Diagnostic]]


def host_matches(host: str, pattern: str) -> bool:
    """True when `pattern` (exact or `*.suffix`, one extra label) covers `host` (also a pattern)."""
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if host == pattern:
        return True
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(dot) and bool(label) and label != "*" and "." + rest == pattern[1:]
    return False


class HostPatterns:
    """A set of exact and `*.` wildcard hosts answering "is this host covered" in O(1)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        normalized = {p.lower().rstrip(".") for p in patterns}
        self.exact = normalized
        self.wildcard_suffixes = {p[2:] for p in normalized if p.startswith("*.")}

    def covers(self, host: str) -> bool:
        if host in self.exact:  # written as it is normalised: the usual case
            return True
        host = host.lower().rstrip(".")
        if host in self.exact:
            return True
        label, dot, rest = host.partition(".")
        return bool(dot) and bool(label) and label != "*" and rest in self.wildcard_suffixes
