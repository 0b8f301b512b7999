"""Problems the Kubernetes provider keeps retrying through, logged so that a long outage stays readable.

A stream refused with 403 retries every few seconds for as long as the RBAC is wrong; logging every
attempt buries everything else. Each distinct problem (a key, and a signature: the message, or a
coarser class of it) is logged once when it starts, at WARNING or ERROR; repeats go to DEBUG, with
a reminder at the same level every `reminder` seconds while it lasts; when it clears, one INFO line
says how long it lasted ("watch of secrets restored after 42 s"). A different problem under the
same key is logged at once (the outage goes on: its duration too).

A problem has *members*: what suffers from it. A problem of the API server itself (unreachable,
401, 5xx, a stalled connection) hits every watch stream at once: the streams share one key and
join it as members, so five streams make one line, and the recovery line comes when the last
member works again. A member is part of one problem at a time.

Thread-safe: the watch streams run in threads of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

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
    what: str  # what the recovery line names ("" : the caller of `recovered` names it)
    members: set[str] = field(default_factory=set)
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
        member: str | None = None,
        what: str = "",
    ) -> None:
        """One occurrence of `message` under `key`, suffered by `member` (default: the key itself).

        signature: what makes two occurrences "the same problem" (default: the message itself).
        detail: appended to the line but not part of the identity ("retrying in 0.4s (attempt 2/7)").
        what: named in the recovery line (default: what the member's `recovered` call names).
        """
        sig = message if signature is None else signature
        who = key if member is None else member
        text = f"{self._prefix}{message}; {detail}" if detail else f"{self._prefix}{message}"
        with self._lock:
            now = self._clock()
            for other_key, other in list(self._open.items()):  # the member's previous problem, if another
                if other_key != key and who in other.members:
                    other.members.discard(who)
                    if not other.members:  # its last member fails differently now: no "restored"
                        del self._open[other_key]
            problem = self._open.get(key)
            if problem is None or problem.signature != sig:
                since = now if problem is None else problem.since
                members = {who} if problem is None else problem.members | {who}
                self._open[key] = _Problem(sig, since, now, what, members)
                line, lvl = text, level
            elif now - problem.logged >= self.reminder:
                problem.members.add(who)
                line = (
                    f"{text} (still failing after {describe_duration(now - problem.since)}; "
                    f"{problem.repeats + 1} times since the last message)"
                )
                lvl = level
                problem.logged, problem.repeats = now, 0
            else:
                problem.members.add(who)
                problem.repeats += 1
                line, lvl = text, logging.DEBUG
        self._log.log(lvl, "%s", line)

    def recovered(self, member: str, what: str, *, keep: Collection[str] = ()) -> float | None:
        """`member` works again. A problem left without members is over: log "WHAT restored after N s"
        once and return the outage's length (None when nothing was failing, or others still are).

        keep: keys of problems the member stays part of (a relist that worked does not end a run of
        410 Gone: only a watch that works does).
        """
        lines: list[tuple[str, float]] = []
        with self._lock:
            now = self._clock()
            for key, problem in list(self._open.items()):
                if key in keep or member not in problem.members:
                    continue
                problem.members.discard(member)
                if not problem.members:
                    del self._open[key]
                    lines.append((problem.what or what, now - problem.since))
        for named, lasted in lines:
            self._log.info("%s%s restored after %s", self._prefix, named, describe_duration(lasted))
        return lines[-1][1] if lines else None

    def failing(self, key: str) -> bool:
        with self._lock:
            return key in self._open
