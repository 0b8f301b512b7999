"""Findings about user input. Problems in input accumulate as Diagnostics; they never raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ingressctl.model.location import Location
from ingressctl.model.objects import ObjectRef


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding.

    code: stable identifier (e.g. "IC101"); the README lists them all.
    message: names the object ("Ingress default/web: ...").
    hint: what to do about it, one sentence.
    related: other places involved (the other side of a conflict).
    """

    code: str
    severity: Severity
    message: str
    location: Location | None = None
    hint: str = ""
    object: ObjectRef | None = None
    related: tuple[Location, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        if loc is None:
            return ("", 0, 0, self.code)
        return (loc.file, loc.line, loc.column, self.code)
