"""Tables that are never cut: piped or redirected, a table prints whole values, however wide.

Rich sizes tables to the terminal, and to 80 columns when there is none, cutting cells to `a.exampl…`.
A pipe or a file wants whole lines (grep, less, CI logs); a terminal keeps the terminal's width.
"""

from __future__ import annotations

from rich.console import Console, RenderableType


def print_whole(console: Console, renderable: RenderableType) -> None:
    """Print `renderable` on `console`, at its natural width when the console is not a terminal."""
    if not console.is_terminal:
        natural = Console(width=10_000).measure(renderable).maximum
        console.width = max(console.width, natural)
    console.print(renderable)
