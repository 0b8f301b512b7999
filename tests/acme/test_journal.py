"""The order journal against real Pebble: an order a dead process left behind is resumed, not placed again.

"The dead process" here is the real ACME flow (ingressctl.acme.client) cut short where a kill -9 would
cut it: right after the CA accepted the order, and after the certificate was issued but before it was
stored. The next CertificateManager must finish that very order (RFC 8555 §7.4: fetch the order and
its authorizations), which Pebble confirms: the account has exactly one order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509

from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.client import AcmeClient
from ingressctl.acme.keys import account_key_to_der, generate_account_key, generate_key, key_to_pem
from ingressctl.acme.ledger import RateLimitLedger
from ingressctl.acme.manager import CertificateManager
from ingressctl.acme.responder import StandaloneResponder
from ingressctl.acme.storage import AccountRecord, AcmeJsonStorage, Resolver
from ingressctl.model.config import AcmeConfig, AcmeDomain
from ingressctl.tls.inspect import key_matches
from tests.pebble import Pebble
from tests.serve_acme.lab import pebble_orders
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(60)


class Died(Exception):
    """Where the process was killed."""


def dead_process(pebble: Pebble, storage: Path) -> tuple[AcmeClient, RateLimitLedger]:
    """What a process leaves before it dies: a stored account (and the ledger next to acme.json)."""
    key = generate_account_key()
    client = AcmeClient(pebble.directory_url, key, ca_bundle=str(pebble.api_ca))
    account = client.register("ops@example.test")
    record = AccountRecord(
        email="ops@example.test",
        registration={"body": account.body, "uri": account.uri},
        private_key=account_key_to_der(key),
        ca_server=pebble.directory_url,
    )
    AcmeJsonStorage(storage).save(Resolver("default", record))
    return client, RateLimitLedger(storage.with_name(storage.name + ".ratelimits"))


@asynccontextmanager
async def next_process(
    pebble: Pebble, storage: Path, name: str
) -> AsyncIterator[tuple[CertificateManager, list[bytes]]]:
    """A manager for `name` (a configured domain: ordered at start), with its HTTP-01 responder."""
    got: list[bytes] = []
    config = AcmeConfig(
        email="ops@example.test",
        storage=str(storage),
        ca_server=pebble.directory_url,
        ca_bundle=str(pebble.api_ca),
        domains=(AcmeDomain(name),),
    )
    manager = CertificateManager(config, on_certificate=lambda main, sans, cert, key: got.append(cert))
    responder = StandaloneResponder(manager.challenges, "http-01", "127.0.0.1", pebble.http_port)
    await responder.start()
    try:
        await manager.start()
        yield manager, got
    finally:
        await manager.stop()
        await responder.stop()


async def test_an_order_placed_just_before_a_kill_is_resumed(pebble: Pebble, tmp_path: Path) -> None:
    storage, names = tmp_path / "acme.json", ("placed.journal.test",)
    client, ledger = dead_process(pebble, storage)
    key = key_to_pem(generate_key("ec256"))
    ledger.begin_order(names, owner="dead", key_pem=key)

    def placed(url: str) -> None:
        ledger.order_placed(names, url)
        raise Died  # before any challenge was answered

    with pytest.raises(Died):
        await asyncio.to_thread(client.issue, names, key, ChallengeStore(), on_order=placed)
    url = ledger.pending(names).url  # type: ignore[union-attr]
    assert url.startswith(pebble.directory_url.removesuffix("/dir"))

    async with next_process(pebble, storage, names[0]) as (manager, got):
        await eventually(lambda: bool(got), "the resumed order's certificate")
    assert pebble_orders(pebble, storage) == [list(names)]  # the CA saw that one order, no other
    assert ledger.pending(names) is None and ledger.orders(names) == 1
    (info,) = manager.certificates()
    assert info.status == "valid"
    (stored,) = AcmeJsonStorage(storage).load().certificates
    assert key_matches(x509.load_pem_x509_certificate(stored.certificate), stored.key)


async def test_a_certificate_issued_before_a_kill_is_fetched_not_ordered_again(
    pebble: Pebble, tmp_path: Path
) -> None:
    storage, names = tmp_path / "acme.json", ("issued.journal.test",)
    client, ledger = dead_process(pebble, storage)
    key = key_to_pem(generate_key("ec256"))
    ledger.begin_order(names, owner="dead", key_pem=key)
    challenges = ChallengeStore()
    responder = StandaloneResponder(challenges, "http-01", "127.0.0.1", pebble.http_port)
    await responder.start()
    try:
        issued = await asyncio.to_thread(
            client.issue, names, key, challenges, on_order=lambda url: ledger.order_placed(names, url)
        )
    finally:
        await responder.stop()
    # killed here: the certificate exists at the CA, but neither acme.json nor the ledger heard of it
    first = x509.load_pem_x509_certificate(issued.fullchain_pem)

    async with next_process(pebble, storage, names[0]) as (_, got):
        await eventually(lambda: bool(got), "the certificate of the finished order")
    again = x509.load_pem_x509_certificate(got[0])
    assert again.serial_number == first.serial_number  # the same certificate, downloaded again
    (stored,) = AcmeJsonStorage(storage).load().certificates
    assert key_matches(again, stored.key)  # with the key the journal kept: it can be served
    assert pebble_orders(pebble, storage) == [list(names)]
    assert ledger.pending(names) is None
