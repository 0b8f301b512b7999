"""Problems the Kubernetes provider keeps retrying through, logged so that a long outage stays readable.

A stream refused with 403 retries every few seconds for as long as the RBAC is wrong; logging every
attempt buries everything else. Each distinct problem (a key such as the stream's id, and a
signature: the message, or a coarser class of it) is logged once when it starts, at WARNING or
ERROR; repeats go to DEBUG, with a reminder at the same level every `reminder` seconds while it
lasts; when it clears, one INFO line says how long it lasted ("watch of secrets restored after 42 s").
A different problem under the same key is logged at once (the outage goes on: its duration too).

Thread-safe: the watch streams run in threads of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

REMINDER_SECONDS = 300.0


def describe_duration(seconds: float) -> str:
    """'42 s', '3 min 5 s', '2 h 4 min': what a person reading the log wants, not milliseconds."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s" if seconds >= 1 or seconds == 0 else f"{seconds:.1f} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass(slots=True)
class _Problem:
    signature: str
    since: float  # when the outage began (kept across a change of problem)
    logged: float  # when it was last logged at its level
    repeats: int = 0  # occurrences since then, logged at DEBUG only


class ProblemLog:
    """Rate-limited logging of ongoing problems, keyed by what is failing."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        reminder: float = REMINDER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = "kubernetes: ",
    ) -> None:
        self._log = logger
        self.reminder = reminder
        self._clock = clock
        self._prefix = prefix
        self._open: dict[str, _Problem] = {}
        self._lock = threading.Lock()

    def failed(
        self,
        key: str,
        message: str,
        *,
        level: int = logging.WARNING,
        signature: str | None = None,
        detail: str = "",
    ) -> None:
        """One occurrence of `message` under `key`.

        signature: what makes two occurrences "the same problem" (default: the message itself).
        detail: appended to the line but not part of the identity ("retrying in 0.4s (attempt 2/7)").
        """
        sig = message if signature is None else signature
        text = f"{self._prefix}{message}; {detail}" if detail else f"{self._prefix}{message}"
        with self._lock:
            now = self._clock()
            problem = self._open.get(key)
            if problem is None or problem.signature != sig:
                since = now if problem is None else problem.since
                self._open[key] = _Problem(sig, since, now)
                line, lvl = text, level
            elif now - problem.logged >= self.reminder:
                line = (
                    f"{text} (still failing after {describe_duration(now - problem.since)}; "
                    f"{problem.repeats + 1} times since the last message)"
                )
                lvl = level
                problem.logged, problem.repeats = now, 0
            else:
                problem.repeats += 1
                line, lvl = text, logging.DEBUG
        self._log.log(lvl, "%s", line)

    def recovered(self, key: str, what: str) -> float | None:
        """`key` works again: log "WHAT restored after N s" if it was failing; returns the outage's length."""
        with self._lock:
            problem = self._open.pop(key, None)
            if problem is None:
                return None
            lasted = self._clock() - problem.since
        self._log.info("%s%s restored after %s", self._prefix, what, describe_duration(lasted))
        return lasted

    def failing(self, key: str) -> bool:
        with self._lock:
            return key in self._open
