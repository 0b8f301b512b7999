"""A persistent rate-limit guard: never let a misconfiguration hammer the CA.

The ledger records every order per *registered domain* (see `registered_domain`) and every failure
per *hostname*, as the CA counts them. It refuses a new order when
- the domain had `hourly_cap` orders in the last hour or `weekly_cap` in the last week
  (Let's Encrypt allows 50 certificates per registered domain per week), or
- the last attempts for one of its names failed: after n consecutive failures it waits
  `backoff_base * 2**(n-1)` seconds, up to `backoff_max` (Let's Encrypt allows 5 failed validations
  per hostname per hour). Only that name waits: a subdomain whose DNS is not ready yet must not keep
  its siblings from getting certificates.
The ledger is a small JSON file written atomically, so the guard survives restarts and crash loops.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingressctl.acme.files import atomic_write

log = logging.getLogger("ingressctl.acme")

HOUR = 3600.0
WEEK = 7 * 24 * HOUR

# A heuristic, not the Public Suffix List (we ship no data file): two labels make the registered
# domain, three when the last two are one of these well-known two-level public suffixes.
TWO_LEVEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "net.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "co.za", "org.za",
        "com.br", "net.br", "org.br", "com.cn", "net.cn", "org.cn", "com.mx", "com.ar", "com.tr",
        "co.in", "net.in", "org.in", "co.kr", "or.kr", "com.sg", "com.hk", "com.tw", "co.il", "co.id",
    }
)  # fmt: skip


def registered_domain(name: str) -> str:
    labels = name.lower().rstrip(".").lstrip("*.").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _host(name: str) -> str:
    return name.lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    retry_at: float = 0.0  # epoch seconds


class RateLimitLedger:
    def __init__(
        self,
        path: str | Path | None,
        *,
        hourly_cap: int = 20,
        weekly_cap: int = 50,
        backoff_base: float = 60.0,
        backoff_max: float = 24 * HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path else None
        self.hourly_cap = hourly_cap
        self.weekly_cap = weekly_cap
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        self._lock = threading.Lock()
        self._domains: dict[str, dict[str, Any]] = {}  # registered domain -> {"orders": [epoch, ...]}
        self._hosts: dict[str, dict[str, Any]] = {}  # hostname -> {"failures": n, "last_failure": epoch}
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            domains = data["domains"]
            hosts = data.get("hosts", {})
            assert isinstance(domains, dict) and isinstance(hosts, dict)
        except (OSError, ValueError, KeyError, AssertionError, TypeError):
            # Losing the ledger must not stop certificates; refusing to forget it would be worse.
            log.error(
                "rate-limit ledger %s is unreadable; starting a new one (old file kept as .bad)", self.path
            )
            self.path.replace(self.path.with_name(self.path.name + ".bad"))
            return
        # Failures kept per registered domain by earlier versions are dropped: they blocked every sibling.
        self._domains = {
            str(k): {"orders": v.get("orders", [])} for k, v in domains.items() if isinstance(v, dict)
        }
        self._hosts = {str(k): v for k, v in hosts.items() if isinstance(v, dict)}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"schema": 1, "domains": self._domains, "hosts": self._hosts}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())

    def _entry(self, domain: str, now: float) -> dict[str, Any]:
        entry = self._domains.setdefault(domain, {"orders": []})
        entry["orders"] = [t for t in entry.get("orders", []) if now - float(t) < WEEK]
        return entry

    def check(self, names: tuple[str, ...] | list[str]) -> Decision:
        """May we place an order for these names now?"""
        now = self.clock()
        with self._lock:
            for name in sorted({_host(n) for n in names}):
                host = self._hosts.get(name, {})
                failures = int(host.get("failures", 0))
                if failures:
                    wait = min(self.backoff_base * 2 ** (failures - 1), self.backoff_max)
                    until = float(host.get("last_failure", 0.0)) + wait
                    if now < until:
                        return Decision(
                            False,
                            f"{name}: {failures} failed attempt(s) in a row; backing off for {wait:.0f}s",
                            until,
                        )
            for domain in sorted({registered_domain(n) for n in names}):
                entry = self._entry(domain, now)
                orders = [float(t) for t in entry["orders"]]
                last_hour = sorted(t for t in orders if now - t < HOUR)
                if len(last_hour) >= self.hourly_cap:
                    return Decision(
                        False, f"{domain}: {len(last_hour)} orders in the last hour (cap {self.hourly_cap})",
                        last_hour[-self.hourly_cap] + HOUR,
                    )  # fmt: skip
                if len(orders) >= self.weekly_cap:
                    return Decision(
                        False, f"{domain}: {len(orders)} orders in the last week (cap {self.weekly_cap})",
                        sorted(orders)[-self.weekly_cap] + WEEK,
                    )  # fmt: skip
        return Decision(True)

    def record_order(self, names: tuple[str, ...] | list[str]) -> None:
        now = self.clock()
        with self._lock:
            for domain in {registered_domain(n) for n in names}:
                self._entry(domain, now)["orders"].append(now)
            self._save()

    def record_result(self, names: tuple[str, ...] | list[str], ok: bool) -> None:
        now = self.clock()
        with self._lock:
            # A name nobody asked for in a week (its Ingress is gone) is forgotten.
            self._hosts = {
                k: v for k, v in self._hosts.items() if now - float(v.get("last_failure", 0)) < WEEK
            }
            for name in {_host(n) for n in names}:
                if ok:
                    self._hosts.pop(name, None)
                else:
                    host = self._hosts.setdefault(name, {"failures": 0, "last_failure": 0.0})
                    host["failures"] = int(host.get("failures", 0)) + 1
                    host["last_failure"] = now
            self._save()
