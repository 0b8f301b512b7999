"""The rate-limit guard: caps per registered domain, back-off after failures, persisted across restarts."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ingressctl.acme.ledger import HOUR, WEEK, Outcome, RateLimitLedger, registered_domain
from ingressctl.model import ConfigError


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
    assert json.loads(path.read_text())["schema"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "{broken",
        "[]",
        '{"schema": 1, "domains": []}',
        '{"schema": 9, "domains": {}}',
        '{"schema": 2, "domains": {}, "limits": {}}',
        '{"schema": 2, "domains": {"example.com": {"orders": ["soon"]}}}',
    ],
)
def test_an_unreadable_ledger_stops_the_caller_and_is_left_alone(tmp_path: Path, text: str) -> None:
    # The orders it records cannot be recovered: forgetting them would let a crash loop burn the limits.
    path = tmp_path / "l.json"
    path.write_text(text)
    ledger = RateLimitLedger(path)
    with pytest.raises(ConfigError) as err:
        ledger.verify()
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError):
        ledger.record_order(["a.example.com"])
    assert path.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [".l.json.lock", "l.json"]


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


def test_name_set_caps_hourly_and_weekly_whatever_the_order_of_names(tmp_path: Path) -> None:
    clock = Clock()
    ledger = RateLimitLedger(tmp_path / "l.json", set_hourly_cap=2, set_weekly_cap=3, clock=clock)
    ledger.begin_order(["a.example.com", "b.example.com"], owner="one")
    ledger.finish_order(["a.example.com", "b.example.com"], Outcome.VALID)
    ledger.begin_order(["B.example.com", "a.example.com"], owner="one")  # the same set for the CA
    ledger.finish_order(["a.example.com", "b.example.com"], Outcome.VALID)
    held = ledger.check(["b.example.com", "a.example.com"])
    assert not held.allowed and "a.example.com,b.example.com: 2 orders" in held.reason
    assert held.retry_at == pytest.approx(clock.now + HOUR)
    assert ledger.check(["a.example.com"]).allowed  # another set of names
    clock.now += HOUR
    ledger.begin_order(["a.example.com", "b.example.com"], owner="one")
    ledger.finish_order(["a.example.com", "b.example.com"], Outcome.UNKNOWN)
    clock.now += HOUR
    weekly = ledger.check(["a.example.com", "b.example.com"])
    assert not weekly.allowed and "may have produced a certificate (cap 3)" in weekly.reason
    assert weekly.retry_at == pytest.approx(clock.now - 2 * HOUR + WEEK)


def test_orders_the_ca_refused_count_per_hour_not_per_week(tmp_path: Path) -> None:
    # A refused order produced no certificate: it does not use up Let's Encrypt's duplicate limit.
    clock = Clock()
    ledger = RateLimitLedger(
        tmp_path / "l.json", set_hourly_cap=2, set_weekly_cap=2, backoff_base=1, clock=clock
    )
    for _ in range(4):
        assert ledger.check(["x.example.com"]).allowed
        ledger.begin_order(["x.example.com"], owner="one")
        ledger.finish_order(["x.example.com"], Outcome.REFUSED)
        clock.now += HOUR
    assert ledger.orders(["x.example.com"]) == 4


def test_an_order_left_by_a_dead_process_is_resumed_once_and_counts_as_an_attempt(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "l.json"
    names = ["a.example.com"]
    dead = RateLimitLedger(path, clock=clock)
    dead.begin_order(names, owner="dead")
    dead.order_placed(names, "https://ca/order/1")
    # kill -9 here: a new process finds the entry
    fresh = RateLimitLedger(path, clock=clock)
    assert fresh.claim_left_over(names, owner="dead") is None  # its own entry is not a left-over
    left = fresh.claim_left_over(names, owner="new")
    assert left is not None and left.url == "https://ca/order/1" and left.owner == "dead"
    backoff = fresh.check(names)
    assert not backoff.allowed and "1 failed attempt(s)" in backoff.reason
    assert fresh.claim_left_over(names, owner="new") is None  # claimed: counted once only
    again = RateLimitLedger(path, clock=clock)  # and the next process after that resumes it too
    resumed = again.claim_left_over(names, owner="third")
    assert resumed is not None and resumed.url == "https://ca/order/1"
    assert "1 failed attempt(s)" in again.check(names).reason  # no second count for the same order
    again.finish_order(names, Outcome.VALID)
    assert again.pending(names) is None and again.check(names).allowed
    assert again.orders(names) == 1


def test_an_order_without_a_url_is_dropped_after_counting(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "l.json"
    RateLimitLedger(path, clock=clock).begin_order(["a.example.com"], owner="dead")
    fresh = RateLimitLedger(path, clock=clock)
    left = fresh.claim_left_over(["a.example.com"], owner="new")
    assert left is not None and left.url == ""
    assert fresh.pending(["a.example.com"]) is None
    assert not fresh.check(["a.example.com"]).allowed  # back-off: it was an attempt
