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


def core_times() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) clock ticks since boot, from /proc/stat. Idle, iowait and steal are
    not busy: steal is time the hypervisor gave to another guest."""
    out: dict[int, tuple[int, int]] = {}
    with open("/proc/stat") as f:
        for line in f:
            name, _, rest = line.partition(" ")
            if name.startswith("cpu") and name[3:].isdigit():
                ticks = [int(x) for x in rest.split()]
                total = sum(ticks[:8])  # guest time is already inside user
                out[int(name[3:])] = (total - ticks[3] - ticks[4] - ticks[7], total)
    return out


def busy_percent(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]], cpu: int) -> float:
    """How busy one CPU was between two core_times() readings, in percent."""
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return 100.0 * busy / total if total else 0.0
