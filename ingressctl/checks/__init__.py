"""Lint rules beyond compiling (IC3xx), the combined findings of `validate`, and their output formats."""

from ingressctl.checks.codes import CODES
from ingressctl.checks.runner import CheckResult, LoadResultLike, check, lint, run_checks

__all__ = ["CODES", "CheckResult", "LoadResultLike", "check", "lint", "run_checks"]
