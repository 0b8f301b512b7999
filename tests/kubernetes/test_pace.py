"""The stall deadline of a watch stream, learnt from the gaps between the bookmarks that arrive."""

from __future__ import annotations

from ingressctl.providers.kubernetes.pace import BookmarkPace


def test_the_ceiling_holds_until_two_gaps_are_known() -> None:
    pace = BookmarkPace(ceiling=150.0)
    assert pace.deadline == 150.0 and pace.interval is None
    pace.bookmark(100.0)
    pace.bookmark(160.0)  # one gap: maybe chance
    assert pace.deadline == 150.0
    pace.bookmark(220.0)
    assert pace.interval == 60.0
    assert pace.deadline == 150.0  # three minutes of silence would be longer than the ceiling


def test_three_missed_intervals_with_a_floor() -> None:
    pace = BookmarkPace(ceiling=150.0, floor=1.0)
    for t in (0.0, 10.0, 20.0, 30.0):
        pace.bookmark(t)
    assert pace.deadline == 30.0
    fast = BookmarkPace(ceiling=150.0, floor=1.0)
    for t in (0.0, 0.1, 0.2):
        fast.bookmark(t)
    assert fast.deadline == 1.0  # a busy machine is not a dead server


def test_the_longest_recent_gap_counts_and_a_new_stream_starts_no_gap() -> None:
    pace = BookmarkPace(ceiling=150.0)
    for t in (0.0, 10.0, 24.0, 34.0):
        pace.bookmark(t)
    assert pace.interval == 14.0  # jitter widens the deadline, never narrows it
    pace.stream_opened()
    pace.bookmark(1000.0)  # the first bookmark of a new watch: no gap to the old stream's last
    assert pace.interval == 14.0
    assert pace.deadline == 42.0
