"""Output formats of `ingressctl validate`, each a small class behind `Format`.

A run renders one format: only its module is imported (`validate` starts lean).
"""

from __future__ import annotations

import importlib

from ingressctl.checks.formats.base import Format, summary_line

# name → "module:class" of the format.
_FORMATS: dict[str, str] = {
    "text": "ingressctl.checks.formats.text:TextFormat",
    "json": "ingressctl.checks.formats.json_format:JsonFormat",
    "sarif": "ingressctl.checks.formats.sarif:SarifFormat",
    "github": "ingressctl.checks.formats.github:GithubFormat",
}


def format_class(name: str) -> type[Format]:
    """The Format class called `name` (one of FORMAT_NAMES)."""
    module, _, cls = _FORMATS[name].partition(":")
    found: type[Format] = getattr(importlib.import_module(module), cls)
    return found


def get_format(name: str, *, verbose: bool = False) -> Format:
    """The format called `name` (one of FORMAT_NAMES)."""
    return format_class(name)(verbose=verbose)


FORMAT_NAMES: tuple[str, ...] = tuple(_FORMATS)


def __getattr__(name: str) -> object:
    # FORMATS (name → class) loads every format: for code that lists them all (tests, docs).
    if name == "FORMATS":
        return {key: format_class(key) for key in _FORMATS}
    raise AttributeError(name)


__all__ = ["FORMAT_NAMES", "Format", "format_class", "get_format", "summary_line"]
