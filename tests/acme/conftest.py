"""Pebble for the ACME tests: one instance per xdist worker (session), started on free ports.

The Pebble-starting code lives in tests/pebble.py so the serve tests can reuse it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests import pebble as lab
from tests.pebble import ChallTestSrv, Pebble, new_eab_key, start_pebble

# The session fixtures live in tests/pebble.py so other areas (serve) share them.
pebble_workdir = lab.pebble_workdir
challtestsrv = lab.challtestsrv
pebble = lab.pebble

EAB_KID = "kid-1"


@pytest.fixture(scope="session")
def pebble_eab(pebble_workdir: Path, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    """A second CA that requires external account binding."""
    p = start_pebble(pebble_workdir / "eab", challtestsrv, eab_keys={EAB_KID: new_eab_key()})
    yield p
    p.stop()


@pytest.fixture(scope="session")
def pebble_short(pebble_workdir: Path, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    """A CA issuing 6-second certificates, for renewal."""
    p = start_pebble(pebble_workdir / "short", challtestsrv, validity_seconds=6)
    yield p
    p.stop()


def verify_issued(ca: Pebble, fullchain_pem: bytes, name: str) -> x509.Certificate:
    """Verify a chain Pebble issued against Pebble's current root, for `name`; returns the leaf."""
    root = x509.load_pem_x509_certificate(ca.root_pem())
    certs = x509.load_pem_x509_certificates(fullchain_pem)
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(name))
    verifier.verify(certs[0], certs[1:])
    return certs[0]


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
