"""The rate limiter's buckets with a hand-driven clock: bursts, refill, Retry-After, and memory
bounded however many sources there are."""

from __future__ import annotations

import tracemalloc

from ingressctl.model.access import RateSet
from ingressctl.proxy.middlewares.rate_limit import TokenBuckets


def take(buckets: TokenBuckets, key: str, now: float) -> float:
    wait = buckets.wait(key, now)
    if wait == 0:
        buckets.take(key, now)
    return wait


def test_burst_then_the_average_rate() -> None:
    buckets = TokenBuckets(RateSet("r", period=10.0, average=5, burst=3))  # a token every 2 s
    assert [take(buckets, "a", 0.0) for _ in range(3)] == [0, 0, 0]
    assert take(buckets, "a", 0.0) == 2.0  # the next token in 2 s: Retry-After
    assert take(buckets, "b", 0.0) == 0  # another source has its own bucket
    assert take(buckets, "a", 1.9) > 0
    assert take(buckets, "a", 2.0) == 0
    assert take(buckets, "a", 2.0) > 0
    # A long pause fills the bucket up to the burst, never beyond.
    assert [take(buckets, "a", 100.0) for _ in range(4)][3] > 0


def test_refused_requests_do_not_use_tokens() -> None:
    buckets = TokenBuckets(RateSet("r", period=1.0, average=1, burst=1))
    assert take(buckets, "a", 0.0) == 0
    for _ in range(100):
        assert take(buckets, "a", 0.5) > 0
    assert take(buckets, "a", 1.0) == 0


def test_full_buckets_are_forgotten() -> None:
    buckets = TokenBuckets(RateSet("r", period=1.0, average=10, burst=5))
    for i in range(5000):
        take(buckets, f"10.0.{i // 256}.{i % 256}", 0.0)
    assert len(buckets) == 5000  # all still refilling
    # A second later all those buckets are full again: swept as the table grows with new sources
    # (the table stays within twice the sources whose buckets are refilling).
    for i in range(10_000):
        take(buckets, f"10.1.{i // 256}.{i % 256}", 1.0)
    assert len(buckets) <= 10_000


def test_a_hard_cap_when_every_source_is_refilling() -> None:
    buckets = TokenBuckets(RateSet("r", period=3600.0, average=1, burst=1), max_sources=2000)
    for i in range(50_000):
        take(buckets, f"s{i}", float(i) / 1000)
    assert len(buckets) < 2 * 2048
    # The cap forgets the buckets that are closest to full: the most recent sources stay limited.
    assert take(buckets, "s49999", 50.0) > 0


def test_100000_sources_take_less_than_50_mb() -> None:
    buckets = TokenBuckets(RateSet("r", period=3600.0, average=100, burst=10))  # none refills in time
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100_000):
            # Address strings as the proxy gets them, one per source, kept by the table.
            take(buckets, f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", 0.001 * (i % 1000))
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(buckets) == 100_000
    assert used < 50 * 1024 * 1024, used
