"""Renewal through `serve`: with Pebble issuing short-lived certificates, the renewed certificate is served
by the running process (no restart, no reload), and the renewal is stored in acme.json."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pebble import ChallTestSrv, Pebble, start_pebble

from .conftest import Site
from .lab import Serve, acme_config, https_get, pebble_orders, tls_ingress, wait_verified, write_manifest

pytestmark = pytest.mark.timeout(60)

VALIDITY = 12  # seconds: the manager renews when a third of the lifetime is left (8 s after issuance)


@pytest.fixture(scope="module")
def short_lived_pebble(pebble_workdir: Path, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    p = start_pebble(pebble_workdir / "short-lived", challtestsrv, validity_seconds=VALIDITY)
    yield p
    p.stop()


def test_renewed_certificate_is_served_without_restart(
    tmp_path: Path, short_lived_pebble: Pebble, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site = Site(tmp_path, short_lived_pebble)
    site.manifests.mkdir()
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "brief", tls_ingress("brief", "brief.example.test", backend_port))
    sp = start_serve(site)
    https = sp.addresses["https"]
    first, _ = wait_verified(https, "brief.example.test", site.root_ca)
    lifetime = first.leaf.not_valid_after_utc - first.leaf.not_valid_before_utc
    assert lifetime <= datetime.timedelta(seconds=VALIDITY + 1)

    deadline = time.monotonic() + VALIDITY + 5
    while True:
        answer = https_get(https, "brief.example.test", cafile=site.root_ca)
        if answer.leaf.serial_number != first.leaf.serial_number:
            break
        assert time.monotonic() < deadline, f"not renewed before expiry:\n{sp.text}"
        time.sleep(0.1)
    assert answer.status == 200 and answer.body == b"backend brief.example.test /"
    assert answer.leaf.not_valid_after_utc > first.leaf.not_valid_after_utc
    assert sp.proc.poll() is None
    assert sp.count(r"requesting a certificate for brief\.example\.test \(renewal\)") >= 1, sp.text
    assert len(pebble_orders(site.pebble, site.storage)) >= 2
    renewed = answer.leaf.serial_number
    assert f"{renewed:x}" in _stored_serials(site)


def _stored_serials(site: Site) -> str:
    import base64
    import json

    from cryptography import x509

    doc = json.loads(site.storage.read_text())
    serials = []
    for record in doc["default"]["Certificates"]:
        leaf = x509.load_pem_x509_certificate(base64.b64decode(record["certificate"]))
        serials.append(f"{leaf.serial_number:x}")
    return " ".join(serials)
