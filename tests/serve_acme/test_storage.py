"""acme.json through `serve`: unsafe or corrupt files stop serve with one clear line; a restart reuses it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pebble import ChallTestSrv, start_pebble

from .conftest import Site
from .lab import (
    Serve,
    acme_config,
    https_get,
    pebble_orders,
    run_serve,
    tls_ingress,
    wait_verified,
    write_manifest,
)

pytestmark = pytest.mark.timeout(60)


def test_world_readable_acme_json_is_refused(site: Site) -> None:
    site.storage.write_text("{}\n")
    os.chmod(site.storage, 0o644)
    site.config.write_text(acme_config(site.pebble, site.storage))
    result = run_serve(site.config, site.manifests)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if str(site.storage) in line]
    assert len(errors) == 1 and "chmod 600" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert stat.S_IMODE(os.stat(site.storage).st_mode) == 0o644  # not silently "fixed"


def test_corrupt_acme_json_is_refused_and_left_unchanged(site: Site) -> None:
    corrupt = b'{"default": {"Account": {"Email": "ops@example.test"'  # cut off mid-write
    site.storage.write_bytes(corrupt)
    os.chmod(site.storage, 0o600)
    site.config.write_text(acme_config(site.pebble, site.storage))
    result = run_serve(site.config, site.manifests)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert any(str(site.storage) in line for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert site.storage.read_bytes() == corrupt
    assert stat.S_IMODE(os.stat(site.storage).st_mode) == 0o600


def test_restart_serves_the_stored_certificate_without_a_new_order(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "keep", tls_ingress("keep", "keep.example.test", backend_port))
    first = start_serve(site)
    issued, _ = wait_verified(first.addresses["https"], "keep.example.test", site.root_ca)
    assert stat.S_IMODE(os.stat(site.storage).st_mode) == 0o600  # created private
    assert first.stop() == 0
    stored = site.storage.read_bytes()
    ledger = site.ledger.read_bytes() if site.ledger.exists() else b""

    second = start_serve(site)
    # Ready means the stored certificate is installed: the very first handshake gets it.
    again = https_get(second.addresses["https"], "keep.example.test", cafile=site.root_ca)
    assert again.status == 200
    assert again.leaf.serial_number == issued.leaf.serial_number
    second.wait_for(r"configuration applied")
    assert second.count(r"requesting a certificate") == 0, second.text
    assert site.storage.read_bytes() == stored
    assert (site.ledger.read_bytes() if site.ledger.exists() else b"") == ledger
    assert pebble_orders(site.pebble, site.storage) == [["keep.example.test"]]  # the CA saw one order


def test_traefik_v17_acme_json_is_refused_with_the_way_forward(site: Site) -> None:
    # The seedbox guides ran Traefik 1.7: its file store is not the layout serve writes, and serve must
    # neither rewrite it nor start without it.
    v17 = (
        '{"Account": {"Email": "ops@example.test", "Registration": {"body": {}, "uri": "https://ca/acct/1"},'
        ' "PrivateKey": "", "KeyType": "4096"}, "Certificates": [],'
        ' "HTTPChallenges": {}, "TLSChallenges": {}}\n'
    )
    site.storage.write_text(v17)
    os.chmod(site.storage, 0o600)
    site.config.write_text(acme_config(site.pebble, site.storage))
    result = run_serve(site.config, site.manifests)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if str(site.storage) in line]
    assert len(errors) == 1, result.stderr
    assert "v1.7" in errors[0] and "[acme] storage" in errors[0] and "acme export" in errors[0], errors[0]
    assert site.storage.read_text() == v17


def test_changing_the_ca_reissues_from_the_new_one_and_serves_the_old_meanwhile(
    site: Site,
    backend_port: int,
    start_serve: Callable[[Site], Serve],
    pebble_workdir: Path,
    challtestsrv: ChallTestSrv,
) -> None:
    # staging → production, in miniature: a second Pebble is a different CA with a different root.
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "move", tls_ingress("move", "move.example.test", backend_port))
    first = start_serve(site)
    wait_verified(first.addresses["https"], "move.example.test", site.root_ca)
    assert first.stop() == 0

    other = start_pebble(pebble_workdir / f"other-{site.root.name}", challtestsrv)
    try:
        moved = Site(site.root, other)
        site.config.write_text(acme_config(other, site.storage))
        second = start_serve(moved)
        new, _ = wait_verified(second.addresses["https"], "move.example.test", moved.root_ca)
        assert new.body == b"backend move.example.test /"  # verified against the new CA's root
        assert pebble_orders(other, site.storage) == [["move.example.test"]]
        # The stored certificate was installed before serve listened (it serves until the new one is in).
        lines = second.lines
        installed = [
            i for i, line in enumerate(lines) if "ACME certificate for move.example.test installed" in line
        ]
        listening = next(i for i, line in enumerate(lines) if "listening:" in line)
        requested = next(i for i, line in enumerate(lines) if "requesting a certificate for move" in line)
        assert len(installed) == 2 and installed[0] < requested < installed[1], second.text
        assert installed[0] < listening, second.text
        assert second.count(r"ACME CA changed") == 1, second.text
    finally:
        other.stop()


ACCOUNT = {
    "Email": "ops@example.test",
    "Registration": {"body": {}, "uri": "https://ca/acct/1"},
    "PrivateKey": "",
}
NOT_UNDERSTOOD = {
    "unknown account key": (
        {"default": {"Account": {**ACCOUNT, "Profile": "shortlived"}, "Certificates": []}},
        "default.Account: unknown key 'Profile'",
    ),
    "newer certificate entry": (
        {"default": {"Account": ACCOUNT, "Certificates": [
            {"domain": {"main": "a.example.test"}, "certificate": "", "key": "", "ari": "x"}
        ]}},
        "default.Certificates[0]: unknown key 'ari'",
    ),
    "certificates of the wrong type": (
        {"default": {"Account": ACCOUNT, "Certificates": {"a.example.test": {}}}},
        "default.Certificates: expected a list, found an object",
    ),
    "a main domain that is a number": (
        {"default": {"Certificates": [{"domain": {"main": 42}, "certificate": "", "key": ""}]}},
        "default.Certificates[0].domain.main: expected a string",
    ),
    "a private key that is not base64": (
        {"default": {"Account": {**ACCOUNT, "PrivateKey": "not base64!"}}},
        "default.Account.PrivateKey: not valid base64",
    ),
    "an unknown resolver key": (
        {"default": {"Account": ACCOUNT, "Certificates": [], "Version": 4}},
        "default: unknown key 'Version'",
    ),
    "a top-level list": ([{"Account": ACCOUNT}], "expected a JSON object at the top level"),
    "a resolver that is a string": ({"default": "acme"}, "key 'default' holds str"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(NOT_UNDERSTOOD))
def test_a_file_not_fully_understood_stops_serve_and_is_left_byte_identical(site: Site, case: str) -> None:
    doc, expected = NOT_UNDERSTOOD[case]
    data = (json.dumps(doc, indent=3) + "\n").encode()
    site.storage.write_bytes(data)
    os.chmod(site.storage, 0o600)
    site.config.write_text(acme_config(site.pebble, site.storage))
    result = run_serve(site.config, site.manifests)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if str(site.storage) in line]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert site.storage.read_bytes() == data
    assert sorted(p.name for p in site.root.iterdir()) == ["acme.json", "manifests", "traefik.toml"]


def test_garbage_is_refused_and_left_byte_identical(site: Site) -> None:
    garbage = bytes(range(256)) * 4
    site.storage.write_bytes(garbage)
    os.chmod(site.storage, 0o600)
    site.config.write_text(acme_config(site.pebble, site.storage))
    result = run_serve(site.config, site.manifests)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if str(site.storage) in line]
    assert len(errors) == 1 and "not UTF-8" in errors[0], result.stderr
    assert site.storage.read_bytes() == garbage


def test_the_previous_version_is_kept_as_bak_and_restores_the_state(
    site: Site, backend_port: int, start_serve: Callable[[Site], Serve]
) -> None:
    site.config.write_text(acme_config(site.pebble, site.storage))
    write_manifest(site.manifests, "one", tls_ingress("one", "one.bak.test", backend_port))
    first = start_serve(site)
    issued, _ = wait_verified(first.addresses["https"], "one.bak.test", site.root_ca)
    assert first.stop() == 0
    understood = site.storage.read_bytes()

    write_manifest(site.manifests, "two", tls_ingress("two", "two.bak.test", backend_port))
    second = start_serve(site)
    wait_verified(second.addresses["https"], "two.bak.test", site.root_ca)
    assert second.stop() == 0
    backup = site.storage.with_name("acme.json.bak")
    assert backup.read_bytes() == understood  # the version before the last rewrite
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600

    # A bad release wrote something this version does not understand: serve refuses it; the operator
    # puts the backup back and serve starts with the account and certificates it held.
    site.storage.write_text('{"default": {"Account": {}, "Certificates": [], "Format": 9}}')
    assert run_serve(site.config, site.manifests).returncode == 2
    os.replace(backup, site.storage)
    third = start_serve(site)
    again = https_get(third.addresses["https"], "one.bak.test", cafile=site.root_ca)
    assert again.leaf.serial_number == issued.leaf.serial_number
