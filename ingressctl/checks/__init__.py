"""Lint rules beyond compiling (IC3xx), the combined findings of `validate`, and their output formats.

The names below are imported when first used, not with the package (see ingressctl.routing: the
compiler and the rules load beside `validate`'s reading worker).
"""

from typing import TYPE_CHECKING

from ingressctl.lazy_names import lazy_names

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


__getattr__ = lazy_names(__name__, _HOME)
