"""Leaving a one-shot command without freeing the heap it built.

After `validate` has read 30,000 objects, the interpreter's teardown frees every one of them
(about 0.3 s of a 5 s run) only for the kernel to drop the whole address space a moment later.
A command that built a large heap asks for `skip_teardown()`; `leave(code)` then flushes the
output, runs the exit functions (atexit: logging, a profiler or benchmark hook) and ends the
process with `os._exit`. Without that request it is `sys.exit`, as before.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

_skip = False


def skip_teardown() -> None:
    """Leave without freeing the heap (the next `leave`)."""
    global _skip
    _skip = True


def leave(code: int) -> NoReturn:
    """End the process with `code`: at once after flushing when `skip_teardown` was asked for."""
    if not _skip:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)  # a closed or broken pipe: the normal exit reports it as it always did
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
