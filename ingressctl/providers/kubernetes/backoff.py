"""Exponential back-off with jitter for the Kubernetes watch loops (pure: the caller sleeps)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays initial, initial*factor, ... up to maximum, each stretched by up to `jitter` (a fraction).

    Jitter keeps many controllers (or many watch streams of one controller) from hammering an API
    server that just came back, all in the same second.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    @property
    def steps(self) -> int:
        """How many attempts until the delay reaches `maximum` (the N of "attempt n/N")."""
        if self.initial >= self.maximum or self.factor <= 1:
            return 1
        return math.ceil(math.log(self.maximum / self.initial, self.factor)) + 1

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt `attempt + 1`; `attempt` counts failures so far (1-based)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return base * (1 + self.jitter * rand())

    def describe(self, attempt: int) -> str:
        if attempt <= self.steps:
            return f"attempt {attempt}/{self.steps}"
        return f"attempt {attempt}, every {self.maximum:g}s from now on"
