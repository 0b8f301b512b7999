"""`--help` that reads well at 80 columns: plain click-style help (paragraphs re-flowed to the
terminal, no boxes) and placeholders that are words.

Typer labels values with Python types (`--timeout <float>`, `PATH <list[str]>`, `{paths}...`).
`use_word_metavars` makes every placeholder a word: the parameter's `metavar` when it has one,
else its name in capitals (`--ca-bundle CA_BUNDLE`, `PATHS...`). It adjusts three display methods
of Typer's parameter classes; if a Typer release renames them, help falls back to Typer's own
labels (nothing else depends on this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

_applied = False


def _word(param: click.Parameter) -> str:
    return str(param.metavar or (param.name or "value").upper())


def use_word_metavars() -> None:
    """Install the word placeholders (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    from typer import core

    argument = getattr(core, "TyperArgument", None)
    option = getattr(core, "TyperOption", None)
    if argument is not None and hasattr(argument, "display_type_rich"):

        def argument_type(self: click.Argument, ctx: click.Context) -> str | None:
            return None  # the name column already holds the word

        def argument_name(self: click.Argument) -> str:
            return _word(self) + ("..." if self.nargs != 1 else "")

        def argument_usage(self: click.Argument) -> str:
            name = _word(self)
            return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

        argument.display_type_rich = argument_type
        if hasattr(argument, "_rich_display_name"):
            argument._rich_display_name = argument_name
        if hasattr(argument, "_usage_display_name"):
            argument._usage_display_name = argument_usage
    if option is not None and hasattr(option, "display_type_rich"):
        original = option.display_type_rich

        def option_type(self: click.Option, ctx: click.Context) -> str | None:
            if self.metavar is not None:
                return str(self.metavar)
            shown = original(self, ctx)
            if shown is None or not str(shown).startswith("<"):
                return None if shown is None else str(shown)
            return _word(self) + ("..." if self.multiple else "")

        option.display_type_rich = option_type
