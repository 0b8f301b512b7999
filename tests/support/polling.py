"""Wait for a condition until a deadline: tests assert what happens, never how fast (the machine is
shared and noisy; latency goals belong in `make bench`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(
    condition: Callable[[], bool], what: str = "the condition", timeout: float = 15.0
) -> float:
    """Return as soon as `condition()` holds (the seconds it took); fail naming `what` when it still
    does not after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout:g}s: {what}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started
