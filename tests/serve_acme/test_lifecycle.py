"""What an operator sees around issuance: a refused order, a reload, the metrics."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from .conftest import Site
from .lab import (
    Serve,
    acme_config,
    dns_names,
    https_get,
    pebble_orders,
    tls_ingress,
    wait_verified,
    write_manifest,
)

pytestmark = pytest.mark.timeout(60)


def test_refused_order_keeps_serving_and_does_not_block_other_hosts(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # Pebble refuses names on its blocklist (rejectedIdentifier), as a CA refuses a policy violation.
    site.config.write_text(acme_config(site.pebble, site.storage))
    sp = start_serve(site)
    write_manifest(site.manifests, "blocked", tls_ingress("blocked", "blocked.example.test", backend_port))
    sp.wait_for(r"could not obtain a certificate for blocked\.example\.test", timeout=15)
    answer = https_get(sp.addresses["https"], "blocked.example.test", cafile=None)
    assert answer.status == 200  # still served, with the default certificate
    assert "blocked.example.test" not in dns_names(answer.leaf)

    write_manifest(site.manifests, "fine", tls_ingress("fine", "fine.example.test", backend_port))
    wait_verified(sp.addresses["https"], "fine.example.test", site.root_ca)
    assert sp.proc.poll() is None
    # The table change re-offered the refused host: the guard held it back instead of asking the CA again.
    assert sp.count(r"requesting a certificate for blocked\.example\.test") == 1, sp.text
    metrics = sp.api_get("/metrics").decode()
    assert 'ingressctl_acme_orders_total{result="valid"} 1.0' in metrics, metrics
    assert "ingressctl_acme_failures_total" in metrics


def test_reload_keeps_certificates_without_new_orders(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "steady", tls_ingress("steady", "steady.example.test", backend_port))
    sp = start_serve(site)
    first, _ = wait_verified(sp.addresses["https"], "steady.example.test", site.root_ca)
    mark = len(sp.lines)
    sp.proc.send_signal(signal.SIGHUP)
    sp.wait_for(r"reload requested", start=mark)
    sp.wait_for(r"configuration applied", start=mark)
    time.sleep(0.5)  # time for a (wrong) new order to start
    again = https_get(sp.addresses["https"], "steady.example.test", cafile=site.root_ca)
    assert again.leaf.serial_number == first.leaf.serial_number
    assert sp.count(r"requesting a certificate") == 1, sp.text
    assert pebble_orders(site.pebble, site.storage) == [["steady.example.test"]]
