"""What a command says when it meets a bug (not bad input): one line and exit code 3.

Shared by the Typer app and the lean start paths (which must not import Typer or Rich).
"""

from __future__ import annotations

from typing import Final

INTERNAL_ERROR_EXIT_CODE: Final = 3


def internal_error_line(exc: BaseException) -> str:
    """The one line printed instead of a traceback (INGRESSCTL_DEBUG=1 shows the traceback)."""
    return (
        f"internal error: {type(exc).__name__}: {exc} "
        "(set INGRESSCTL_DEBUG=1 for the traceback, and please report it)"
    )
