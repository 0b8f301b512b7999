"""CPU time and peak memory of a process, read from /proc (Linux)."""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of pid and its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[11..14] = utime stime cutime cstime (0-based after the command name)
    return sum(int(x) for x in fields[11:15]) / _TICKS


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the resident set's high-water mark, in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tree_pids(pid: int) -> list[int]:
    """pid and its descendants (for --workers N)."""
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for kid in kids:
        out.extend(tree_pids(kid))
    return out
