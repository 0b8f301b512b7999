"""The rate-limit guard: caps per registered domain, back-off after failures, persisted across restarts."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ingressctl.acme.ledger import HOUR, WEEK, RateLimitLedger, registered_domain


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("name", "registered"),
    [
        ("www.example.com", "example.com"),
        ("a.b.example.com", "example.com"),
        ("example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("*.example.com.au", "example.com.au"),
        ("WWW.Example.COM.", "example.com"),
    ],
)
def test_registered_domain_heuristic(name: str, registered: str) -> None:
    assert registered_domain(name) == registered


def test_hourly_and_weekly_caps_per_registered_domain(tmp_path: Path) -> None:
    clock = Clock()
    ledger = RateLimitLedger(tmp_path / "l.json", hourly_cap=3, weekly_cap=5, clock=clock)
    for host in ("a.example.com", "b.example.com", "c.example.com"):
        assert ledger.check([host]).allowed
        ledger.record_order([host])
    blocked = ledger.check(["d.example.com"])
    assert not blocked.allowed and "3 orders in the last hour" in blocked.reason
    assert blocked.retry_at == pytest.approx(clock.now + HOUR)
    assert ledger.check(["a.other.org"]).allowed  # another registered domain is unaffected
    clock.now += HOUR + 1
    ledger.record_order(["d.example.com"])
    ledger.record_order(["e.example.com"])
    weekly = ledger.check(["f.example.com"])
    assert not weekly.allowed and "5 orders in the last week" in weekly.reason
    clock.now += WEEK
    assert ledger.check(["f.example.com"]).allowed


def test_exponential_backoff_after_failures_and_reset_on_success(tmp_path: Path) -> None:
    clock = Clock()
    ledger = RateLimitLedger(tmp_path / "l.json", backoff_base=60, backoff_max=600, clock=clock)
    waits = []
    for _ in range(5):
        ledger.record_result(["x.example.com"], ok=False)
        decision = ledger.check(["x.example.com"])
        assert not decision.allowed
        assert ledger.check(["y.example.com"]).allowed  # a sibling of the failing name is not held back
        waits.append(decision.retry_at - clock.now)
        clock.now = decision.retry_at
    assert waits == [60, 120, 240, 480, 600]
    assert ledger.check(["x.example.com"]).allowed
    ledger.record_result(["x.example.com"], ok=True)
    ledger.record_result(["x.example.com"], ok=False)
    assert ledger.check(["x.example.com"]).retry_at - clock.now == 60


def test_persisted_across_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "acme.json.ratelimits"
    first = RateLimitLedger(path, hourly_cap=2, clock=clock)
    first.record_order(["a.example.com"])
    first.record_order(["b.example.com"])
    first.record_result(["c.example.net"], ok=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = RateLimitLedger(path, hourly_cap=2, clock=clock)
    assert not second.check(["c.example.com"]).allowed
    assert not second.check(["c.example.net"]).allowed
    assert json.loads(path.read_text())["schema"] == 1


def test_an_unreadable_ledger_is_set_aside_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text("{broken")
    ledger = RateLimitLedger(path)
    assert ledger.check(["a.example.com"]).allowed
    assert (tmp_path / "l.json.bad").read_text() == "{broken"


def test_failures_are_per_hostname_and_orders_per_registered_domain(tmp_path: Path) -> None:
    """One subdomain whose validation fails (DNS not ready) must not keep its siblings from certificates."""
    clock = Clock()
    path = tmp_path / "l.json"
    ledger = RateLimitLedger(path, hourly_cap=3, clock=clock)
    ledger.record_order(["broken.example.com"])
    ledger.record_result(["broken.example.com"], ok=False)
    assert not ledger.check(["broken.example.com"]).allowed
    assert not ledger.check(["ok.example.com", "BROKEN.example.com."]).allowed  # an order naming it waits too
    assert ledger.check(["ok.example.com"]).allowed
    ledger.record_order(["ok.example.com"])
    ledger.record_result(["ok.example.com"], ok=True)
    ledger.record_order(["third.example.com"])
    capped = ledger.check(["fourth.example.com"])
    assert not capped.allowed and "example.com: 3 orders in the last hour" in capped.reason
    reloaded = RateLimitLedger(path, hourly_cap=3, clock=clock)
    assert not reloaded.check(["broken.example.com"]).allowed
    assert "broken.example.com: 1 failed attempt(s) in a row" in reloaded.check(["broken.example.com"]).reason


def test_domain_wide_failures_of_older_ledgers_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    old = {"schema": 1, "domains": {"example.com": {"orders": [1.0], "failures": 9, "last_failure": 1.0e12}}}
    path.write_text(json.dumps(old))
    ledger = RateLimitLedger(path, clock=Clock())
    assert ledger.check(["a.example.com"]).allowed
