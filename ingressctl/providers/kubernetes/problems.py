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
member works again. A member is part of one problem at a time: one that fails differently now has
left its previous problem. The streams do not fail in the same millisecond: with `settle`, a
problem left without members is over only if no member rejoins it within `settle` seconds, so one
stream recovering just before another notices the same problem does not split it in two (only
problems with members other than their key: a status write or the Lease ends at once).

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
    closing: threading.Timer | None = None  # no members left: over unless one rejoins in time
    shared: bool = False  # members other than the key itself (only these settle)


class ProblemLog:
    """Rate-limited logging of ongoing problems, keyed by what is failing."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        reminder: float = REMINDER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = "kubernetes: ",
        settle: float = 0.0,
    ) -> None:
        self._log = logger
        self.reminder = reminder
        self.settle = settle
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
        ended: list[tuple[str, float]] = []
        with self._lock:
            now = self._clock()
            for other_key, other in list(self._open.items()):  # the member's previous problem, if another
                if other_key != key and who in other.members:
                    ended += self._leave(other_key, other, who, now)
            problem = self._open.get(key)
            if problem is not None and problem.closing is not None:
                problem.closing.cancel()  # rejoined in time: the same outage goes on
                problem.closing = None
            if problem is None or problem.signature != sig:
                since = now if problem is None else problem.since
                members = {who} if problem is None else problem.members | {who}
                self._open[key] = _Problem(sig, since, now, what, members, shared=member is not None)
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
        self._restored(ended)
        self._log.log(lvl, "%s", line)

    def recovered(self, member: str, what: str, *, keep: Collection[str] = ()) -> float | None:
        """`member` works again. A problem left without members is over: log "WHAT restored after N s"
        once and return the outage's length (None when nothing was failing, or others still are).

        keep: keys of problems the member stays part of (a relist that worked does not end a run of
        410 Gone: only a watch that works does).
        """
        ended: list[tuple[str, float]] = []
        with self._lock:
            now = self._clock()
            for key, problem in list(self._open.items()):
                if key not in keep and member in problem.members:
                    ended += self._leave(key, problem, member, now, what)
        self._restored(ended)
        return ended[-1][1] if ended else None

    def _leave(
        self, key: str, problem: _Problem, member: str, now: float, what: str = ""
    ) -> list[tuple[str, float]]:
        """Under the lock: `member` leaves; the line to log if that ended the problem."""
        problem.members.discard(member)
        problem.what = problem.what or what
        if problem.members:
            return []
        if self.settle <= 0 or not problem.shared:
            del self._open[key]
            return [(problem.what, now - problem.since)]
        if problem.closing is None:
            problem.closing = threading.Timer(self.settle, self._settled, (key, problem))
            problem.closing.daemon = True
            problem.closing.start()
        return []

    def _settled(self, key: str, problem: _Problem) -> None:
        with self._lock:
            if self._open.get(key) is not problem or problem.members or problem.closing is None:
                return
            del self._open[key]
            lasted = self._clock() - problem.since - self.settle
        self._restored([(problem.what, lasted)])

    def _restored(self, ended: list[tuple[str, float]]) -> None:
        for named, lasted in ended:
            self._log.info("%s%s restored after %s", self._prefix, named, describe_duration(lasted))

    def failing(self, key: str) -> bool:
        with self._lock:
            return key in self._open
