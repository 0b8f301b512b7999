"""How a command's errors become an exit code and one line: the one mapping, shared by the Typer app
(cli/app.py) and the lean start paths (which must not import Typer or Rich).

0 clean / success, 1 findings (or a check that failed), 2 usage, configuration or unreadable input
(IngressctlError.exit_code), 3 an internal error (a bug: please report it), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Final

from ingressctl.model import IngressctlError

INTERNAL_ERROR_EXIT_CODE: Final = 3
INTERRUPTED_EXIT_CODE: Final = 130


def exit_code_for(exc: BaseException) -> int:
    """The exit code a command ends with when `exc` escapes it."""
    if isinstance(exc, IngressctlError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_EXIT_CODE
    return INTERNAL_ERROR_EXIT_CODE


def run_lean(command: Callable[[], int]) -> int:
    """Run a command outside the Typer app: errors become "error: ..." on stderr and their exit code,
    a bug one line and exit 3 (INGRESSCTL_DEBUG=1 shows the traceback instead)."""
    try:
        return command()
    except IngressctlError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        return exit_code_for(exc)
    except Exception as exc:
        if os.environ.get("INGRESSCTL_DEBUG"):
            raise
        print(internal_error_line(exc), file=sys.stderr, flush=True)
        return exit_code_for(exc)


def internal_error_line(exc: BaseException) -> str:
    """The one line printed instead of a traceback (INGRESSCTL_DEBUG=1 shows the traceback)."""
    return (
        f"internal error: {type(exc).__name__}: {exc} "
        "(set INGRESSCTL_DEBUG=1 for the traceback, and please report it)"
    )
