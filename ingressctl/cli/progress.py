"""Progress on a terminal for inputs that take more than a second.

Shown on stderr only when stderr is a terminal, after one second (a quick run shows nothing), and
erased when the work ends: pipes and CI logs never see it. When the work reports how many files it
reads, a Rich progress bar (files done / total); otherwise a one-line spinner. Rich is imported
only once the second has passed: `validate` starts lean.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import threading

DELAY_SECONDS = 1.0
# Tests set it to see the bar on a small input; users have no reason to.
DELAY_ENVIRONMENT = "INGRESSCTL_PROGRESS_DELAY"
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Tracker:
    """What the work reports while it runs: files read so far out of how many."""

    __slots__ = ("done", "total")

    def __init__(self) -> None:
        self.done = 0
        self.total: int | None = None

    def files(self, done: int, total: int) -> None:
        self.done, self.total = done, total


def _delay(delay: float | None) -> float:
    if delay is not None:
        return delay
    try:
        return float(os.environ.get(DELAY_ENVIRONMENT, DELAY_SECONDS))
    except ValueError:
        return DELAY_SECONDS


@contextmanager
def progress(
    what: str, stream: TextIO | None = None, delay: float | None = None, *, enabled: bool = True
) -> Iterator[Tracker]:
    """While the block runs: after `delay`, a bar `what ━━━━╺━━ 120/300 files 0:00:02` (or, until the
    block reports files, `⠋ what… 3.2 s`) on `stream` (stderr), redrawn 10 times a second, erased at
    the end. Nothing unless `enabled` and the stream is a terminal."""
    out = stream if stream is not None else sys.stderr
    tracker = Tracker()
    if not enabled or not out.isatty():
        yield tracker
        return
    import threading  # a terminal only: CI runs (not a terminal) start without it (issue 18)

    done = threading.Event()
    started = time.monotonic()
    shown = False
    wait = _delay(delay)

    def draw() -> None:
        nonlocal shown
        if done.wait(wait):
            return
        frame = 0
        while not done.is_set() and tracker.total is None:
            elapsed = time.monotonic() - started
            out.write(f"\r\x1b[2K{_FRAMES[frame % len(_FRAMES)]} {what}… {elapsed:.1f} s")
            out.flush()
            shown = True
            frame += 1
            done.wait(0.1)
        if not done.is_set():
            if shown:
                out.write("\r\x1b[2K")
                out.flush()
                shown = False
            _draw_bar(what, tracker, out, done)

    thread = threading.Thread(target=draw, name="progress", daemon=True)
    thread.start()
    try:
        yield tracker
    finally:
        done.set()
        thread.join()
        if shown:
            out.write("\r\x1b[2K")
            out.flush()


def _draw_bar(what: str, tracker: Tracker, out: TextIO, done: threading.Event) -> None:
    """Rich's bar until `done`, then erased (transient); redrawn here, not by Rich's own thread."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=Console(file=out),
        transient=True,
        auto_refresh=False,
        # The report is written by the main thread after the bar is gone: nothing to redirect.
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task(what, total=tracker.total)
    bar.start()
    try:
        while not done.is_set():
            total = tracker.total
            reading = total is None or tracker.done < total
            description = what if reading else "checking the routes"
            bar.update(task, completed=tracker.done, total=total, description=description)
            bar.refresh()
            done.wait(0.1)
    finally:
        bar.stop()
