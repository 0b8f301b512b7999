"""The circuit breaker's state machine with a clock the test moves: closed → open when the condition
holds over the window, 503s during the fallback time, one probe at a time when half-open, open again
on a failing probe, closed after enough good ones; old answers leave the window."""

from __future__ import annotations

from ingressctl.model.backend_policy import CircuitBreaker
from ingressctl.proxy.middlewares.circuit_breaker import Breaker
from ingressctl.routing.breaker_expression import parse_breaker_expression


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(expression: str, clock: Clock) -> Breaker:
    config = CircuitBreaker(expression, parse_breaker_expression(expression))
    return Breaker(config, clock)


def test_open_half_open_closed() -> None:
    clock = Clock()
    b = breaker("NetworkErrorRatio() > 0.5", clock)
    for _ in range(3):
        assert b.allow()
        b.record(200, 0.01)
    clock.now += 0.2
    b.record(502, 0.01)
    b.record(504, 0.01)
    assert b.state == "closed"  # 2 of 5: not over half
    clock.now += 0.2
    b.record(502, 0.01)
    b.record(502, 0.01)
    assert b.state == "closed"  # checked at most every 100 ms: the last answer is not counted yet
    clock.now += 0.1
    assert not b.allow()  # the next request checks: 4 of 7
    assert b.state == "open"
    clock.now += 9.9
    assert not b.allow()  # the fallback time (10 s) is not over
    clock.now += 0.2
    assert b.allow()  # half-open: one probe
    assert not b.allow()  # and only one at a time
    b.record(502, 0.01)
    assert b.state == "open"  # the probe failed
    clock.now += 10.1
    for _ in range(3):
        assert b.allow()
        b.record(200, 0.01)
    assert b.state == "closed"
    assert all(b.allow() for _ in range(5))


def test_a_probe_that_never_reports_is_replaced() -> None:
    clock = Clock()
    b = breaker("NetworkErrorRatio() > 0.5", clock)
    b.record(502, 0.01)
    assert b.state == "open"
    clock.now += 10.5
    assert b.allow()  # the probe's client went away: no record() ever comes
    assert not b.allow()
    clock.now += 10.5
    assert b.allow()


def test_old_answers_leave_the_window() -> None:
    clock = Clock()
    b = breaker("ResponseCodeRatio(500, 600, 0, 600) > 0.5", clock)
    for _ in range(10):
        b.record(200, 0.01)
    clock.now += 11  # the successes are older than the 10 s window now
    b.record(500, 0.01)
    assert b.state == "open"


def test_latency_quantile_and_junctions() -> None:
    clock = Clock()
    b = breaker("LatencyAtQuantileMS(50.0) > 100 && ResponseCodeRatio(500, 600, 0, 600) < 0.5", clock)
    for _ in range(5):
        b.record(200, 0.05)
        clock.now += 0.2
    assert b.state == "closed"  # median 50 ms
    for _ in range(6):
        b.record(200, 0.5)
        clock.now += 0.2
    assert b.state == "open"  # median 500 ms, and no 5xx
    clock2 = Clock()
    b2 = breaker("LatencyAtQuantileMS(50.0) > 100 || NetworkErrorRatio() >= 1", clock2)
    b2.record(504, 0.001)
    assert b2.state == "open"
