"""A crash-looping `serve` must not burn the CA's limits (issue 21).

Real `ingressctl serve` processes against a real Pebble, killed with SIGKILL at various points of their
start and of the order flow: before anything happened, once listening, when the order is requested,
and right after the CA accepted it (the ledger's journal holds its URL). Pebble's own log counts the
newOrder requests, for every account, so an order placed with an account ingressctl lost still counts.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.acme.ledger import Outcome, RateLimitLedger
from tests.support.manifests import app_manifest

from .conftest import Site
from .lab import (
    Serve,
    acme_config,
    pebble_orders,
    pebble_requests,
    tls_ingress,
    wait_verified,
    write_manifest,
)

pytestmark = pytest.mark.timeout(240)

ORDERS_PER_HOUR = 2
SETTLED = r"requesting a certificate|holding back the order|obtained a certificate"


def _journal_has_url(ledger: Path) -> bool:
    try:
        doc = json.loads(ledger.read_text())
    except (OSError, ValueError):
        return False
    return any(entry.get("url") for entry in doc.get("journal", {}).values())


def _kill_at(serve: Serve, point: str, ledger: Path) -> None:
    """Wait for `point` (bounded: a process that is held back never gets there), then SIGKILL."""
    deadline = time.monotonic() + 20
    if point == "at once":
        pass
    elif point == "order placed":
        while time.monotonic() < deadline and serve.proc.poll() is None and not _journal_has_url(ledger):
            if serve.count(r"holding back the order|obtained a certificate"):
                break
            time.sleep(0.005)
    else:
        pattern = {"listening": r"listening:", "requesting": SETTLED}[point]
        while time.monotonic() < deadline and serve.proc.poll() is None and not serve.count(pattern):
            time.sleep(0.005)
    os.kill(serve.proc.pid, signal.SIGKILL)
    serve.proc.wait(10)


def test_a_crash_loop_places_at_most_the_configured_orders(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    extra = (f"ordersPerHour = {ORDERS_PER_HOUR}", "ordersPerWeek = 3")
    site.config.write_text(acme_config(site.pebble, site.storage, acme_extra=extra))
    write_manifest(site.manifests, "loop", tls_ingress("loop", "loop.crash.test", backend_port))
    orders_before = pebble_requests(site.pebble, "/order-plz")
    points = ["order placed", "at once", "requesting", "order placed", "listening", "order placed"] * 3
    for point in points:
        _kill_at(Serve.start(site.config, site.manifests), point, site.ledger)
    placed = pebble_requests(site.pebble, "/order-plz") - orders_before
    assert 1 <= placed <= ORDERS_PER_HOUR, f"{placed} orders for one name in {len(points)} starts"

    # What survives the loop is readable, and the next start either serves the certificate (an order
    # resumed or finished), or says that, and until when, it holds the next order back, or (the CA's
    # validation of a resumed order raced a killed process's challenge answer) says when it tries again.
    final = start_serve(site)
    final.wait_for(
        r"obtained a certificate for loop\.crash\.test|holding back the order for loop\.crash\.test"
        r"|could not obtain a certificate for loop\.crash\.test.*next attempt at"
    )
    if final.count(r"obtained a certificate for loop\.crash\.test"):
        wait_verified(final.addresses["https"], "loop.crash.test", site.root_ca)
    elif final.count(r"holding back the order for loop\.crash\.test"):
        held = final.api_json("/api/certificates")["acme_held"]  # type: ignore[index]
        assert [h["names"] for h in held] == [["loop.crash.test"]]
    assert pebble_requests(site.pebble, "/order-plz") - orders_before <= ORDERS_PER_HOUR
    assert len(pebble_orders(site.pebble, site.storage)) <= ORDERS_PER_HOUR
    assert final.count("Traceback") == 0, final.text


def test_an_order_held_back_is_reported_once_with_its_next_attempt(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    names = ["held.crash.test"]
    earlier = RateLimitLedger(site.ledger)  # an order placed a moment ago by an earlier process
    earlier.begin_order(names, owner="earlier")
    earlier.finish_order(names, Outcome.VALID)
    placed_at = time.time()
    site.config.write_text(acme_config(site.pebble, site.storage, acme_extra=("ordersPerHour = 1",)))
    write_manifest(site.manifests, "held", tls_ingress("held", "held.crash.test", backend_port))
    orders_before = pebble_requests(site.pebble, "/order-plz")

    serve = start_serve(site)
    line = serve.wait_for(r"holding back the order for held\.crash\.test .*; next attempt at (\S+)")
    next_attempt = datetime.datetime.fromisoformat(line.group(1)).timestamp()
    assert abs(next_attempt - (placed_at + 3600)) < 60, line.group(0)
    # More reloads ask for the same certificate again: the hold is not repeated.
    write_manifest(site.manifests, "more", app_manifest("more", "held.crash.test", "/more", backend_port, ""))
    serve.wait_for(r"configuration applied", start=len(serve.lines) - 1)
    deadline = time.monotonic() + 20
    while serve.count(r"configuration applied") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serve.count(r"holding back the order for held\.crash\.test") == 1, serve.text

    (held,) = serve.api_json("/api/certificates")["acme_held"]  # type: ignore[index]
    assert held["names"] == names and "1 orders for this set of names in the last hour" in held["reason"]
    assert abs(datetime.datetime.fromisoformat(held["next_attempt"]).timestamp() - next_attempt) < 2
    metrics = serve.api_get("/metrics").decode()
    gauge = re.search(r'ingressctl_acme_order_held_until_seconds\{names="held\.crash\.test"\} (\S+)', metrics)
    assert gauge is not None and abs(float(gauge.group(1)) - next_attempt) < 2, metrics
    assert 'ingressctl_acme_failures_total{reason="rate_limit_guard"} 1.0' in metrics
    assert pebble_requests(site.pebble, "/order-plz") == orders_before  # the CA never heard of it


def test_a_stored_account_is_used_without_new_account_requests(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "first", tls_ingress("first", "first.account.test", backend_port))
    first = start_serve(site)
    wait_verified(first.addresses["https"], "first.account.test", site.root_ca)
    assert first.stop() == 0
    registrations = pebble_requests(site.pebble, "/sign-me-up")
    lookups = pebble_requests(site.pebble, "/my-account/")

    write_manifest(site.manifests, "second", tls_ingress("second", "second.account.test", backend_port))
    second = start_serve(site)
    wait_verified(second.addresses["https"], "second.account.test", site.root_ca)
    assert pebble_requests(site.pebble, "/sign-me-up") == registrations  # no newAccount
    assert pebble_requests(site.pebble, "/my-account/") == lookups  # and no account lookup either
    assert sorted(pebble_orders(site.pebble, site.storage)) == [
        ["first.account.test"],
        ["second.account.test"],
    ]


def test_stale_temporary_files_are_removed_and_never_block_a_save(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # What writers killed mid-write leave: PID-named temporaries (PID 1 is every container's serve).
    stale = [
        site.root / name
        for name in (".acme.json.1.tmp", ".acme.json.4242.tmp", ".acme.json.ratelimits.1.tmp")
    ]
    for path in stale:
        path.write_bytes(b'{"default": {"Acc')
        os.chmod(path, 0o600)
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "tmp", tls_ingress("tmp", "stale.tmp.test", backend_port))
    serve = start_serve(site)
    wait_verified(serve.addresses["https"], "stale.tmp.test", site.root_ca)
    assert not [p for p in stale if p.exists()]
    assert not [p.name for p in Path(site.root).iterdir() if p.name.endswith(".tmp")]
    stored = json.loads(site.storage.read_text())
    assert [c["domain"]["main"] for c in stored["default"]["Certificates"]] == ["stale.tmp.test"]
