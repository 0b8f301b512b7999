"""Line numbers of TOML keys, for messages like `traefik.toml:12: ...`.

tomlkit keeps formatting but not positions, so this scans the source text once: table headers,
array-of-table headers and `key = value` lines, skipping the inside of multi-line strings and arrays.
Keys inside inline tables get the line of the inline table. Matching is case-insensitive because the
configuration keys are (Traefik v1 matched them case-insensitively too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _parse_key(text: str, pos: int) -> tuple[list[str], int] | None:
    """Parse a dotted key at text[pos:]; return its parts and the index after it, or None."""
    parts: list[str] = []
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos >= n:
            return None
        ch = text[pos]
        if ch in "\"'":
            end = pos + 1
            while end < n and text[end] != ch:
                end += 2 if (ch == '"' and text[end] == "\\") else 1
            if end >= n:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            m = _BARE.match(text, pos)
            if m is None:
                return None
            parts.append(m.group(0))
            pos = m.end()
        while pos < n and text[pos] in " \t":
            pos += 1
        if pos < n and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class _ValueScanner:
    """Tracks whether a value continues onto the next lines (open brackets or multi-line strings)."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_multiline: str | None = None

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.in_multiline is not None

    def feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            if self.in_multiline is not None:
                end = text.find(self.in_multiline, i)
                if end < 0:
                    return
                i = end + 3
                self.in_multiline = None
                continue
            ch = text[i]
            if ch == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.in_multiline = text[i : i + 3]
                i += 3
                continue
            if ch in "\"'":
                end = i + 1
                while end < n and text[end] != ch:
                    end += 2 if (ch == '"' and text[end] == "\\") else 1
                i = end + 1
                continue
            if ch in "[{":
                self.depth += 1
            elif ch in "]}":
                self.depth = max(0, self.depth - 1)
            i += 1


def _norm(parts: Sequence[str | int]) -> KeyPath:
    return tuple(p.lower() if isinstance(p, str) else p for p in parts)


class Positions:
    """Maps key paths (case-insensitive; array-of-table entries by index) to 1-based line numbers."""

    def __init__(self, source: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._keys: set[KeyPath] = set()
        self.duplicates: list[int] = []  # lines that assign a key already assigned
        self._scan(source)

    def _record(self, path: KeyPath, line: int) -> None:
        for i in range(1, len(path) + 1):
            self._lines.setdefault(path[:i], line)

    def _scan(self, source: str) -> None:
        table: KeyPath = ()
        array_counts: dict[KeyPath, int] = {}
        scanner = _ValueScanner()
        for number, raw in enumerate(source.splitlines(), start=1):
            if scanner.open:
                scanner.feed(raw)
                continue
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[["):
                parsed = _parse_key(line, 2)
                if parsed is None:
                    continue
                base = _norm(parsed[0])
                index = array_counts.get(base, -1) + 1
                array_counts[base] = index
                # Nested tables below this one belong to the current element.
                for key in [k for k in array_counts if len(k) > len(base) and k[: len(base)] == base]:
                    del array_counts[key]
                table = (*self._resolve(base, array_counts), index)
                self._record(table, number)
            elif line.startswith("["):
                parsed = _parse_key(line, 1)
                if parsed is None:
                    continue
                table = self._resolve(_norm(parsed[0]), array_counts)
                self._record(table, number)
            else:
                parsed = _parse_key(line, 0)
                if parsed is None or parsed[1] >= len(line) or line[parsed[1]] != "=":
                    continue
                full = (*table, *_norm(parsed[0]))
                if full in self._keys:
                    self.duplicates.append(number)
                self._keys.add(full)
                self._record(full, number)
                scanner.feed(line[parsed[1] + 1 :])

    @staticmethod
    def _resolve(path: KeyPath, array_counts: dict[KeyPath, int]) -> KeyPath:
        """Insert array indexes: `[acme.domains.x]` after `[[acme.domains]]` means acme.domains[i].x."""
        out: list[str | int] = []
        for i, part in enumerate(path):
            out.append(part)
            prefix = path[: i + 1]
            if prefix in array_counts and i + 1 < len(path):
                out.append(array_counts[prefix])
        return tuple(out)

    def line(self, path: Sequence[str | int]) -> int:
        """Line of the key, else of its nearest enclosing table that appears in the text, else 0."""
        key = _norm(path)
        while key:
            found = self._lines.get(key)
            if found is not None:
                return found
            key = key[:-1]
        return 0
