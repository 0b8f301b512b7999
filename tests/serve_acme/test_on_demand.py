"""onDemand through `serve`: an unknown SNI name the gate allows gets the default certificate at once and a
valid one shortly after; a name the gate does not allow is never ordered."""

from __future__ import annotations

import json
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


def _is_default(site: Site, sp: Serve, name: str) -> bool:
    """The first handshake for `name` is answered with a certificate that is not Pebble's for it: the
    handshake did not wait for the ACME order (had it waited, it would have got Pebble's)."""
    answer = https_get(sp.addresses["https"], name, cafile=None)
    issuer = answer.leaf.issuer.rfc4514_string()
    return name not in dns_names(answer.leaf) and "Pebble" not in issuer


def test_on_demand_orders_allowed_names_only(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(
        acme_config(
            site.pebble,
            site.storage,
            on_host_rule=False,
            on_demand=True,
            on_demand_allow=("*.allowed.example.test",),
        )
    )
    write_manifest(site.manifests, "gate", tls_ingress("gate", "gate.example.test", backend_port))
    sp = start_serve(site)
    https = sp.addresses["https"]
    assert sp.count(r"requesting a certificate") == 0  # onHostRule is off: nothing before a handshake

    # Not allowed: neither an Ingress host nor in onDemandAllow.
    assert _is_default(site, sp, "stranger.example.test")

    # An Ingress host: default certificate for the first handshake, Pebble's shortly after.
    assert _is_default(site, sp, "gate.example.test")
    answer, _ = wait_verified(https, "gate.example.test", site.root_ca, timeout=10)
    assert answer.body == b"backend gate.example.test /"

    # Allowed by onDemandAllow (no route: the proxy answers 404, but over a valid certificate).
    assert _is_default(site, sp, "shop.allowed.example.test")
    answer, _ = wait_verified(https, "shop.allowed.example.test", site.root_ca, timeout=10, status=404)
    assert dns_names(answer.leaf) == ["shop.allowed.example.test"]

    # Both allowed names were ordered by now; the stranger asked first and still is not.
    assert _is_default(site, sp, "stranger.example.test")
    assert sp.count(r"requesting a certificate for stranger") == 0, sp.text
    assert sp.count(r"stranger\.example\.test is neither an Ingress host nor allowed") >= 1, sp.text
    assert sp.count(r"requesting a certificate for (gate|shop\.allowed)\.example\.test") == 2, sp.text
    assert sorted(pebble_orders(site.pebble, site.storage)) == [
        ["gate.example.test"],
        ["shop.allowed.example.test"],
    ]
    assert "stranger" not in site.storage.read_text()
    listed = json.dumps(sp.api_json("/api/certificates"))
    assert "gate.example.test" in listed and "shop.allowed.example.test" in listed
    assert "stranger.example.test" not in listed


def test_on_demand_with_tls_alpn01(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # Pebble's validation handshakes (SNI = the name, ALPN acme-tls/1) reach the same https entrypoint:
    # they must get the challenge certificate, not count as a new on-demand miss.
    site.config.write_text(
        acme_config(
            site.pebble,
            site.storage,
            challenge="tls",
            https_address=f"127.0.0.1:{site.pebble.tls_port}",
            on_host_rule=False,
            on_demand=True,
        )
    )
    write_manifest(site.manifests, "gate", tls_ingress("gate", "alpn-gate.example.test", backend_port))
    sp = start_serve(site)
    assert _is_default(site, sp, "alpn-gate.example.test")
    answer, _ = wait_verified(sp.addresses["https"], "alpn-gate.example.test", site.root_ca, timeout=10)
    assert answer.body == b"backend alpn-gate.example.test /"
    assert pebble_orders(site.pebble, site.storage) == [["alpn-gate.example.test"]]
    assert sp.count(r"requesting a certificate for alpn-gate\.example\.test") == 1, sp.text


def test_a_flood_of_allowed_names_is_capped(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    # Anyone can send any SNI name: with a wildcard allow-list, the hourly cap (20) bounds the orders.
    site.config.write_text(
        acme_config(
            site.pebble,
            site.storage,
            on_host_rule=False,
            on_demand=True,
            on_demand_allow=("*.flood.example.test",),
        )
    )
    sp = start_serve(site)
    names = [f"n{i:02d}.flood.example.test" for i in range(26)]
    for name in names:
        https_get(sp.addresses["https"], name, cafile=None)
    sp.wait_for(r"hourly cap of 20 reached", timeout=10)
    deadline = time.monotonic() + 30
    while sp.count(r"ACME: obtained a certificate for n\d\d\.flood") < 20:
        assert time.monotonic() < deadline, sp.text
        time.sleep(0.1)
    time.sleep(0.3)
    ordered = pebble_orders(site.pebble, site.storage)
    assert len(ordered) == 20, ordered
    assert {n for (n,) in ordered} < set(names)
    assert sp.count(r"requesting a certificate for n\d\d\.flood") == 20
