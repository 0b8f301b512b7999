"""[acme] ordersPerHour / ordersPerWeek: the per-name-set caps of the rate-limit guard (acme/ledger.py)."""

from __future__ import annotations

from collections.abc import Callable

from ingressctl.model.config import StaticConfig

BASE = """
[entryPoints.http]
address = ":80"
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
[acme]
email = "ops@example.com"
{extra}
  [acme.httpChallenge]
  entryPoint = "http"
"""


def test_defaults_stay_below_lets_encrypts_duplicate_limit(load: Callable[..., StaticConfig]) -> None:
    acme = load(BASE.format(extra="")).acme
    assert acme is not None and (acme.orders_per_hour, acme.orders_per_week) == (3, 4)


def test_configured_caps(load: Callable[..., StaticConfig]) -> None:
    config = load(BASE.format(extra="ordersPerHour = 1\nordersPerWeek = 2"))
    assert config.acme is not None and (config.acme.orders_per_hour, config.acme.orders_per_week) == (1, 2)
    assert not config.warnings


def test_a_weekly_cap_at_the_ca_limit_is_a_warning(load: Callable[..., StaticConfig]) -> None:
    config = load(BASE.format(extra="ordersPerWeek = 5"))
    assert any("5 duplicate certificates per week" in w for w in config.warnings), config.warnings


def test_zero_or_a_string_is_refused(problems: Callable[..., list[str]]) -> None:
    lines = problems(BASE.format(extra='ordersPerHour = 0\nordersPerWeek = "4"'))
    assert any("ordersPerHour" in line for line in lines) and any("ordersPerWeek" in line for line in lines)
