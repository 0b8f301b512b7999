"""A progress line on a terminal for inputs that take more than a second.

Shown on stderr only when stderr is a terminal, after one second (a quick run shows nothing), and
erased when the work ends: pipes and CI logs never see it. No Rich: `validate` starts lean.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

DELAY_SECONDS = 1.0
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@contextmanager
def progress(what: str, stream: TextIO | None = None, delay: float = DELAY_SECONDS) -> Iterator[None]:
    """While the block runs: after `delay`, `⠋ what… 3.2 s` on `stream` (stderr), redrawn 10 times
    a second, and erased at the end."""
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        yield
        return
    done = threading.Event()
    started = time.monotonic()
    shown = False

    def draw() -> None:
        nonlocal shown
        if done.wait(delay):
            return
        frame = 0
        while not done.is_set():
            elapsed = time.monotonic() - started
            out.write(f"\r\x1b[2K{_FRAMES[frame % len(_FRAMES)]} {what}… {elapsed:.1f} s")
            out.flush()
            shown = True
            frame += 1
            done.wait(0.1)

    thread = threading.Thread(target=draw, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown:
            out.write("\r\x1b[2K")
            out.flush()
