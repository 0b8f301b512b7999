"""Markdown tables for the benchmark reports (every suite prints its figures as one or more)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> list[str]:
    """The lines of a Markdown table. `align` has one letter a column, "l" or "r" (default: all
    right-aligned, as figures read best)."""
    align = align or "r" * len(headers)
    separator = "|".join("---:" if a == "r" else "---" for a in align)
    lines = [f"| {' | '.join(headers)} |", f"|{separator}|"]
    lines += [f"| {' | '.join(str(cell) for cell in row)} |" for row in rows]
    return lines
