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
# What must not be freed before leaving: freeing it is the teardown skipped.
_kept: list[object] = []


def skip_teardown(*keep: object) -> None:
    """Leave without freeing the heap (the next `leave`); `keep` stays alive until then.

    A large input dropped on the way (the loaded manifests once only findings are left) would
    otherwise be freed there, object by object: ~0.25 s on 30,000 objects.
    """
    global _skip
    _skip = True
    _kept.extend(keep)


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
