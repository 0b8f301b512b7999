"""The ACME flow against real Pebble: both challenges, SANs, EAB, revoke, and every failure's advice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.client import AcmeClient
from ingressctl.acme.errors import AcmeError
from ingressctl.acme.keys import generate_account_key, generate_key, key_to_pem
from ingressctl.acme.responder import StandaloneResponder
from tests.acme.conftest import EAB_KID, verify_issued
from tests.pebble import Pebble


async def _client(pebble: Pebble, **register: str) -> AcmeClient:
    client = AcmeClient(pebble.directory_url, generate_account_key(), ca_bundle=str(pebble.api_ca))
    await asyncio.to_thread(client.register, "ops@example.test", **register)
    return client


async def _issue(pebble: Pebble, client: AcmeClient, names: list[str], challenge: str) -> tuple[bytes, float]:
    store = ChallengeStore()
    port = pebble.http_port if challenge == "http-01" else pebble.tls_port
    responder = StandaloneResponder(store, challenge, "127.0.0.1", port)
    await responder.start()
    try:
        started = time.monotonic()
        issued = await asyncio.to_thread(
            client.issue, names, key_to_pem(generate_key("ec256")), store, challenge=challenge, timeout=20
        )
        return issued.fullchain_pem, time.monotonic() - started
    finally:
        await responder.stop()
    assert store.pending() == 0


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
async def test_issues_a_certificate_with_sans_that_verifies(pebble: Pebble, challenge: str) -> None:
    client = await _client(pebble)
    # Three labels each: Pebble 2.4.0 panics on a two-label name when a domainBlocklist is set.
    names = ["www.example.test", "api.example.test", "shop.example.test"]
    chain, seconds = await _issue(pebble, client, names, challenge)
    for name in names:
        leaf = verify_issued(pebble, chain, name)
    assert leaf.not_valid_after_utc > leaf.not_valid_before_utc
    assert seconds < 3.0, f"{challenge} issuance took {seconds:.2f}s; 50 ms polling should make it ~0.1-0.2s"


async def test_existing_account_is_found_again_by_its_key(pebble: Pebble) -> None:
    key = generate_account_key()
    first = AcmeClient(pebble.directory_url, key, ca_bundle=str(pebble.api_ca))
    second = AcmeClient(pebble.directory_url, key, ca_bundle=str(pebble.api_ca))
    a = await asyncio.to_thread(first.register, "ops@example.test")
    b = await asyncio.to_thread(second.register, "ops@example.test")
    assert not a.reused and b.reused and a.uri == b.uri
    chain, _ = await _issue(pebble, second, ["reuse.example.test"], "http-01")
    verify_issued(pebble, chain, "reuse.example.test")


async def test_external_account_binding(pebble_eab: Pebble) -> None:
    with pytest.raises(AcmeError) as missing:
        await _client(pebble_eab)
    assert missing.value.code == "externalAccountRequired"
    assert "--eab-kid" in str(missing.value)
    client = await _client(pebble_eab, eab_kid=EAB_KID, eab_hmac=pebble_eab.eab_keys[EAB_KID])
    chain, _ = await _issue(pebble_eab, client, ["eab.example.test"], "http-01")
    verify_issued(pebble_eab, chain, "eab.example.test")


async def test_revoke_by_account_and_twice_is_already_revoked(pebble: Pebble) -> None:
    client = await _client(pebble)
    chain, _ = await _issue(pebble, client, ["revoke.example.test"], "http-01")
    leaf = verify_issued(pebble, chain, "revoke.example.test")
    assert pebble.cert_status(leaf.serial_number) == "Valid"
    await asyncio.to_thread(client.revoke, chain, 1)
    assert pebble.cert_status(leaf.serial_number) == "Revoked"
    with pytest.raises(AcmeError) as again:
        await asyncio.to_thread(client.revoke, chain, 1)
    assert again.value.code == "alreadyRevoked"


async def test_wrong_responder_gives_unauthorized_advice(pebble: Pebble) -> None:
    """Something else answers port 80 (here: a server that returns a wrong key authorization)."""

    async def impostor(request: web.BaseRequest) -> web.Response:
        return web.Response(text="not-the-key-authorization")

    runner = web.ServerRunner(web.Server(impostor))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", pebble.http_port, reuse_address=True).start()
    try:
        client = await _client(pebble)
        with pytest.raises(AcmeError) as failed:
            await asyncio.to_thread(
                client.issue, ["impostor.example.test"], key_to_pem(generate_key("ec256")), ChallengeStore(),
                challenge="http-01", timeout=20,
            )  # fmt: skip
    finally:
        await runner.cleanup()
    err = failed.value
    assert err.code == "unauthorized" and err.domain == "impostor.example.test"
    assert "points to this machine" in str(err) and "port 80" in str(err)


async def test_nothing_listening_gives_connection_advice(pebble: Pebble) -> None:
    client = await _client(pebble)
    with pytest.raises(AcmeError) as failed:
        await asyncio.to_thread(
            client.issue, ["nobody.example.test"], key_to_pem(generate_key("ec256")), ChallengeStore(),
            challenge="http-01", timeout=20,
        )  # fmt: skip
    assert failed.value.code == "connection"
    assert "could not connect" in str(failed.value) and "firewall" in str(failed.value)


@pytest.mark.parametrize(
    ("name", "code", "advice"),
    [
        ("blocked.example.test", "rejectedIdentifier", "will not issue for blocked.example.test"),
        ("bad_name.example.test", "malformed", "no underscores"),
    ],
)
async def test_names_the_ca_refuses(pebble: Pebble, name: str, code: str, advice: str) -> None:
    client = await _client(pebble)
    with pytest.raises(AcmeError) as failed:
        await asyncio.to_thread(
            client.issue, [name], key_to_pem(generate_key("ec256")), ChallengeStore(), challenge="http-01"
        )
    assert failed.value.code == code
    assert advice in str(failed.value)


# A CA that rate-limits: Pebble cannot (docs/acme-testing.md §5), so this is a minimal ACME directory
# whose newAccount answers 429 with a rateLimited problem and Retry-After, as Let's Encrypt does.
@pytest.fixture
async def rate_limited_ca() -> AsyncIterator[str]:
    async def handler(request: web.BaseRequest) -> web.Response:
        base = f"http://{request.host}"
        headers = {"Replay-Nonce": "bm9uY2Ux"}
        if request.path == "/dir":
            return web.json_response(
                {"newNonce": f"{base}/nonce", "newAccount": f"{base}/acct", "newOrder": f"{base}/order"}
            )
        if request.path == "/nonce":
            return web.Response(status=200, headers=headers)
        problem = {
            "type": "urn:ietf:params:acme:error:rateLimited",
            "detail": "too many new accounts from this address",
        }
        return web.json_response(
            problem,
            status=429,
            content_type="application/problem+json",
            headers={**headers, "Retry-After": "3600"},
        )

    runner = web.ServerRunner(web.Server(handler))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/dir"
    await runner.cleanup()


async def test_rate_limited_carries_retry_after(rate_limited_ca: str) -> None:
    client = AcmeClient(rate_limited_ca, generate_account_key())
    with pytest.raises(AcmeError) as failed:
        await asyncio.to_thread(client.register, "ops@example.test")
    err = failed.value
    assert err.code == "rateLimited"
    assert err.retry_after is not None
    assert 3500 < (err.retry_after.timestamp() - time.time()) <= 3600
    assert "Retry after" in str(err) and "staging" in str(err)


async def test_bad_nonce_is_retried(pebble_workdir, challtestsrv) -> None:  # type: ignore[no-untyped-def]
    """Pebble rejecting 30 % of all nonces: our client retries and still registers and issues.

    An issuance makes ~15 signed requests, so several are rejected and retried in every run, while
    ten attempts per request make a spurious failure practically impossible (0.3**10 per request).
    """
    from tests.pebble import start_pebble

    p = start_pebble(pebble_workdir / "nonce", challtestsrv, env={"PEBBLE_WFE_NONCEREJECT": "30"})
    try:
        client = await _client(p)
        chain, _ = await _issue(p, client, ["nonce.example.test"], "http-01")
        verify_issued(p, chain, "nonce.example.test")
    finally:
        p.stop()
