"""Typed, validating access to one table of a parsed TOML document.

Every accessor records the key as known, so `finish()` can report the keys nobody asked for, with a
"did you mean" from the known keys of that table. Problems accumulate; the loader raises once with all
of them. Key lookup is case-insensitive (Traefik v1 behaved so; its docs spell `labelselector`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingressctl.config.positions import KeyPath, Positions


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    line: int
    message: str
    warning: bool = False

    def render(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}" if self.line else f"{source}: {self.message}"


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def show(value: object) -> str:
    """A value as the user would have written it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, candidates: Sequence[str]) -> str:
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float | None:
    """Go-style durations as Traefik writes them: "10s", "1m30s", "250ms"; a bare number is seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total, pos = 0.0, 0
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            return None
        total += float(m.group(1)) * scale[m.group(2)]
        pos = m.end()
    return total if text else None


class Problems:
    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.items: list[ConfigProblem] = []

    def error(self, path: Sequence[str | int], message: str) -> None:
        self.items.append(ConfigProblem(self.positions.line(path), message))

    def warn(self, path: Sequence[str | int], message: str) -> None:
        self.items.append(ConfigProblem(self.positions.line(path), message, warning=True))

    @property
    def errors(self) -> list[ConfigProblem]:
        return [p for p in self.items if not p.warning]

    @property
    def warnings(self) -> list[ConfigProblem]:
        return [p for p in self.items if p.warning]


class Section:
    """One TOML table at `path`."""

    def __init__(self, problems: Problems, path: KeyPath, data: Mapping[str, Any]) -> None:
        self.problems = problems
        self.path = path
        self._data = {k.lower(): (k, v) for k, v in data.items()}
        self._known: list[str] = []
        self._handled: set[str] = set()

    def name(self, key: str) -> str:
        return dotted((*self.path, key))

    def has(self, key: str) -> bool:
        self._declare(key)
        return key.lower() in self._data

    def _declare(self, key: str) -> None:
        if key not in self._known:
            self._known.append(key)
        self._handled.add(key.lower())

    def raw(self, key: str) -> Any:
        self._declare(key)
        item = self._data.get(key.lower())
        return None if item is None else item[1]

    def _bad(self, key: str, what: str, value: object) -> None:
        self.problems.error((*self.path, key), f"{self.name(key)} must be {what}, got {show(value)}")

    def string(self, key: str, example: str = "") -> str | None:
        value = self.raw(key)
        if value is None or isinstance(value, str):
            return value
        self._bad(key, f'a string like "{example}"' if example else "a string", value)
        return None

    def choice(self, key: str, choices: Mapping[str, str]) -> str | None:
        """A string from a closed set (case-insensitive); returns the mapped canonical value."""
        value = self.string(key)
        if value is None:
            return None
        mapped = {k.lower(): v for k, v in choices.items()}.get(value.lower())
        if mapped is None:
            listing = ", ".join(f'"{c}"' for c in choices)
            hint = suggest(value, list(choices))
            self.problems.error(
                (*self.path, key), f"{self.name(key)} must be one of {listing}, got {show(value)}{hint}"
            )
        return mapped

    def boolean(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        self._bad(key, "true or false", value)
        return None

    def integer(self, key: str, minimum: int = 0) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._bad(key, f"an integer >= {minimum}", value)
            return None
        if value < minimum:
            self._bad(key, f"an integer >= {minimum}", value)
            return None
        return value

    def duration(self, key: str) -> float | None:
        """Seconds: a number, or a Go-style duration string like "10s"."""
        value = self.raw(key)
        if value is None:
            return None
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = parse_duration(value)
        if seconds is None or seconds < 0:
            self._bad(key, 'a duration in seconds or like "10s", "500ms"', value)
            return None
        return seconds

    def str_list(self, key: str, example: str = "") -> tuple[str, ...] | None:
        """A list of strings; a single comma-separated string is accepted too (Traefik flag style)."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        what = f'a list of strings like ["{example}"]' if example else "a list of strings"
        self._bad(key, what, value)
        return None

    def table(self, key: str) -> Section | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self._bad(key, f"a table ([{self.name(key)}])", value)
            return None
        return Section(self.problems, (*self.path, key), value)

    def tables(self, key: str) -> list[Section]:
        """An array of tables ([[key]]); a single table is accepted as a list of one."""
        value = self.raw(key)
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self._bad(key, f"an array of tables ([[{self.name(key)}]])", value)
            return []
        return [Section(self.problems, (*self.path, key, i), v) for i, v in enumerate(value)]

    def children(self) -> list[tuple[str, Any]]:
        """All entries (for tables whose keys are names, like entryPoints)."""
        self._handled.update(self._data)
        return [(k, v) for k, v in self._data.values()]

    def unsupported(self, key: str, reason: str, *, error: bool = False) -> None:
        """A key Traefik knows that ingressctl does not implement: accepted with a warning, or refused."""
        value = self.raw(key)
        if value is None:
            return
        label = f"[{self.name(key)}]" if isinstance(value, dict) else self.name(key)
        message = f"{label} is not supported: {reason}"
        if error:
            self.problems.error((*self.path, key), message)
        else:
            self.problems.warn((*self.path, key), message + " (ignored)")

    def finish(self) -> None:
        """Report every key that no accessor asked for."""
        for lowered, (key, _) in self._data.items():
            if lowered in self._handled:
                continue
            self.problems.error((*self.path, key), f"unknown key {self.name(key)}{suggest(key, self._known)}")
