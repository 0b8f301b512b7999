"""The on-demand TLS gate's memory and limits: what an attacker sending random SNI names can cost.

Every handshake whose SNI name finds no certificate reaches the gate. Without limits, random names
would each cost a call to the `ask` URL and an entry in memory. So:

- per name: one attempt per cooldown, and the ask URL's answer cached (longer for yes than for no);
  the names remembered are capped (least recently used forgotten first) and expire with their TTL;
- globally: calls to the ask URL are rate-limited (a token bucket) and at most `max_concurrent_asks`
  are in flight; a name that finds no token is not asked now and not remembered (its next handshake
  tries again), so a flood delays legitimate first certificates instead of hammering the ask service;
- issuance itself stays capped per hour (the manager's hourly cap).

Owned by the manager on the event loop: not thread-safe by design (one thread uses it).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("ingressctl.acme")


@dataclass(slots=True)
class _NameState:
    last_attempt: float = -1e18
    allowed: bool | None = None  # the ask URL's last answer, while it is fresh
    answer_expires: float = 0.0
    touched: float = 0.0


class OnDemandGate:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        cooldown: float = 300.0,
        hourly_cap: int = 20,
        ask_ttl: float = 3600.0,
        ask_negative_ttl: float = 300.0,
        max_names: int = 10_000,
        ask_rate: float = 2.0,
        ask_burst: int = 20,
        max_concurrent_asks: int = 4,
        warn_interval: float = 60.0,
    ) -> None:
        self.clock = clock
        self.cooldown = cooldown
        self.hourly_cap = hourly_cap
        self.ask_ttl = ask_ttl
        self.ask_negative_ttl = ask_negative_ttl
        self.max_names = max_names
        self.ask_rate = ask_rate
        self.ask_burst = ask_burst
        self.max_concurrent_asks = max_concurrent_asks
        self.warn_interval = warn_interval
        self._names: OrderedDict[str, _NameState] = OrderedDict()
        self._issued: list[float] = []  # times of accepted on-demand requests in the last hour
        self._tokens = float(ask_burst)
        self._refilled = clock()
        self.asks_in_flight = 0
        self.asks_refused = 0  # names not asked because of the global limits (since the last warning)
        self._warned_at = -1e18

    # -- per name -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._names)

    def _state(self, name: str, now: float, create: bool) -> _NameState | None:
        state = self._names.get(name)
        if state is not None and now - state.touched > max(self.cooldown, self.ask_ttl):
            del self._names[name]
            state = None
        if state is None:
            if not create:
                return None
            state = self._names[name] = _NameState()
            while len(self._names) > self.max_names:
                self._names.popitem(last=False)
        self._names.move_to_end(name)
        state.touched = now
        return state

    def cooling_down(self, name: str) -> bool:
        """True when `name` was attempted less than `cooldown` seconds ago."""
        now = self.clock()
        state = self._state(name, now, create=False)
        return state is not None and now - state.last_attempt < self.cooldown

    def cached_answer(self, name: str) -> bool | None:
        """The ask URL's fresh answer for `name`, or None when it must be asked."""
        now = self.clock()
        state = self._state(name, now, create=False)
        if state is None or state.allowed is None or state.answer_expires <= now:
            return None
        return state.allowed

    # -- global limits ----------------------------------------------------------------------------------
    def under_hourly_cap(self) -> bool:
        now = self.clock()
        self._issued = [t for t in self._issued if now - t < 3600]
        return len(self._issued) < self.hourly_cap

    def accept(self, name: str) -> None:
        """`name` is being ordered: it counts against the hourly cap and starts its cooldown."""
        now = self.clock()
        state = self._state(name, now, create=True)
        assert state is not None
        state.last_attempt = now
        self._issued.append(now)

    def begin_ask(self, name: str) -> bool:
        """Take a token and a concurrency slot for asking about `name`; False: not now (not remembered)."""
        now = self.clock()
        self._tokens = min(float(self.ask_burst), self._tokens + (now - self._refilled) * self.ask_rate)
        self._refilled = now
        if self.asks_in_flight >= self.max_concurrent_asks or self._tokens < 1.0:
            self.asks_refused += 1
            if now - self._warned_at >= self.warn_interval:
                log.warning(
                    "ACME on-demand: ask URL limits reached (%g/s, burst %d, %d at once); "
                    "%d name(s) not asked, %s among them; they are asked at their next handshake",
                    self.ask_rate,
                    self.ask_burst,
                    self.max_concurrent_asks,
                    self.asks_refused,
                    name,
                )
                self._warned_at = now
                self.asks_refused = 0
            return False
        self._tokens -= 1.0
        self.asks_in_flight += 1
        state = self._state(name, now, create=True)
        assert state is not None
        state.last_attempt = now  # one ask per cooldown, even while the ask is in flight
        return True

    def end_ask(self, name: str, allowed: bool) -> None:
        """The ask URL answered (or failed: `allowed` False) for `name`."""
        now = self.clock()
        self.asks_in_flight = max(0, self.asks_in_flight - 1)
        state = self._state(name, now, create=True)
        assert state is not None
        state.allowed = allowed
        state.answer_expires = now + (self.ask_ttl if allowed else self.ask_negative_ttl)
