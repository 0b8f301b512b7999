"""Lint rules beyond compiling (IC3xx), the combined findings of `validate`, and their output formats.

The names below are imported when first used, not with the package (see ingressctl.routing: the
compiler and the rules load beside `validate`'s reading worker).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingressctl.checks.codes import CODES
    from ingressctl.checks.runner import CheckResult, LoadResultLike, check, run_checks

# The function `lint` is ingressctl.checks.runner.lint: `ingressctl.checks.lint` is the package of
# rules (a lazily imported name of that spelling would be the package once the rules are loaded).
__all__ = ["CODES", "CheckResult", "LoadResultLike", "check", "run_checks"]

_HOME = {
    "CODES": "codes",
    "CheckResult": "runner",
    "LoadResultLike": "runner",
    "check": "runner",
    "run_checks": "runner",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
