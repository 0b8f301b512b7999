"""Wait for a condition until a deadline: tests assert what happens, never how fast (the machine is
shared and noisy; latency goals belong in `make bench`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Return as soon as `condition()` holds; fail naming `what` when it still does not after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        await asyncio.sleep(0.02)
