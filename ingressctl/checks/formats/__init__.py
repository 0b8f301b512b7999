"""Output formats of `ingressctl validate`, each a small class behind `Format`."""

from __future__ import annotations

from ingressctl.checks.formats.base import Format, summary_line
from ingressctl.checks.formats.github import GithubFormat
from ingressctl.checks.formats.json_format import JsonFormat
from ingressctl.checks.formats.sarif import SarifFormat
from ingressctl.checks.formats.text import TextFormat

FORMATS: dict[str, type[Format]] = {
    cls.name: cls for cls in (TextFormat, JsonFormat, SarifFormat, GithubFormat)
}


def get_format(name: str, *, verbose: bool = False) -> Format:
    """The format called `name` (one of FORMATS)."""
    return FORMATS[name](verbose=verbose)


__all__ = ["FORMATS", "Format", "get_format", "summary_line"]
