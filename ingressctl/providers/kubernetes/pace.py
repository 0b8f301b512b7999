"""How long a watch stream may stay silent before it counts as dead, learnt from its bookmarks (pure).

A half-open connection (the server or a load balancer in between gone, the socket still open) sends
nothing: no events, no bookmarks, no FIN. The watch asks for bookmarks, so a healthy stream talks at
least once per bookmark interval; that interval is a server setting (kube-apiserver: about a minute
since 1.27; the test server: whatever the test chooses), so it is learnt from the gaps between the
bookmarks that actually arrive. Silence for `misses` intervals (the longest recent gap, so a server
that jitters is not taken for dead) means the stream is dead; until two gaps are known, and never
beyond, `ceiling` (the fixed stall timeout) applies. A server that sends bookmarks only at the end
of a watch (before 1.27) never shows two gaps in one stream: it keeps the ceiling.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MISSED_BOOKMARKS = 3  # intervals of silence that mean "dead"
GAPS_NEEDED = 2  # gaps seen before the learnt interval is trusted
GAPS_KEPT = 8


@dataclass(slots=True)
class BookmarkPace:
    """The bookmark interval of one watch stream's server, kept across re-watches of that stream."""

    ceiling: float  # never wait longer than this (the configured stall timeout)
    floor: float = 1.0  # never call a stream dead sooner than this (a busy machine is not a dead server)
    misses: int = MISSED_BOOKMARKS
    _gaps: deque[float] = field(default_factory=lambda: deque(maxlen=GAPS_KEPT))
    _last: float | None = None  # when the last bookmark of the current stream came

    def stream_opened(self) -> None:
        """A new watch: the gap to its first bookmark says nothing about the interval."""
        self._last = None

    def bookmark(self, now: float) -> None:
        if self._last is not None:
            self._gaps.append(now - self._last)
        self._last = now

    @property
    def interval(self) -> float | None:
        """The bookmark interval as learnt (the longest recent gap), or None while unknown."""
        if len(self._gaps) < GAPS_NEEDED:
            return None
        return max(self._gaps)

    @property
    def deadline(self) -> float:
        """Seconds of silence after which the stream is dead."""
        interval = self.interval
        if interval is None:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.misses * interval))
