"""HTTP-01 answers shared between replicas through a blob store (a Kubernetes Secret in production).

The store here is an in-memory BlobStore with the same contract as SecretStore (load_bytes, update
with read-modify-write); the end-to-end path through the API server and Pebble is tests/ha/test_acme_ha.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import pytest

from ingressctl.server.acme_shared import OnDemandRelay, SharedChallenges

pytestmark = pytest.mark.timeout(20)

PREFIX = "/.well-known/acme-challenge/"


class MemoryBlob:
    def __init__(self) -> None:
        self.data: bytes | None = None
        self.loads = 0
        self.updates = 0
        self._lock = threading.Lock()

    def load_bytes(self) -> bytes | None:
        with self._lock:
            self.loads += 1
            return self.data

    def update(self, fn: Callable[[bytes | None], bytes], /) -> bytes:
        time.sleep(0.02)  # an API round trip: requests keep arriving meanwhile
        with self._lock:
            self.updates += 1
            self.data = fn(self.data)
            return self.data

    def describe(self) -> str:
        return "memory"


async def test_a_follower_answers_what_the_leader_wrote() -> None:
    blob = MemoryBlob()
    leader, follower = SharedChallenges(lambda: blob), SharedChallenges(lambda: blob, min_interval=0.2)
    assert await follower.lookup(PREFIX + "t1") is None  # nothing pending: falls through to the routes
    # Written right after the follower's read: the next request must not be answered from that stale read.
    await asyncio.to_thread(leader.add_http01, "t1", "t1.key-auth")
    assert await asyncio.wait_for(follower.lookup(PREFIX + "t1"), 10) == "t1.key-auth"
    await asyncio.to_thread(leader.remove_http01, "t1")
    await asyncio.to_thread(leader.add_http01, "t2", "t2.key-auth")
    assert leader.http01_response(PREFIX + "t1") is None
    assert await follower.lookup(PREFIX + "t2") == "t2.key-auth"
    assert await follower.lookup("/other") is None


async def test_tls_alpn_answers_reach_a_follower_before_the_ca_is_told() -> None:
    """The SNI callback cannot wait for a read: the follower holds the leader's answers from its
    periodic reads, and the leader's write returns only after a follower read has had time to pass."""
    blob = MemoryBlob()
    leader, follower = (
        SharedChallenges(lambda: blob, alpn_poll=0.1),
        SharedChallenges(lambda: blob, alpn_poll=0.1),
    )
    started = time.monotonic()
    await asyncio.to_thread(leader.add_tls_alpn01, "Shop.Example.Test", "token.thumbprint")
    assert time.monotonic() - started >= 0.15  # one poll period and a margin
    assert leader.tls_alpn_context("shop.example.test") is not None
    assert follower.tls_alpn_context("shop.example.test") is None  # not read yet
    await follower.refresh_alpn()
    context = follower.tls_alpn_context("shop.example.test.")
    assert context is not None and context is not leader.tls_alpn_context("shop.example.test")
    assert follower.tls_alpn_context("other.example.test") is None
    assert await follower.lookup(PREFIX + "tls-alpn-01:shop.example.test") is None  # not an HTTP-01 token
    # A new answer for the same name replaces the old one; a removed answer is gone after the next read.
    await asyncio.to_thread(leader.add_tls_alpn01, "shop.example.test", "token2.thumbprint")
    await follower.refresh_alpn()
    assert follower.tls_alpn_context("shop.example.test") not in (None, context)
    await asyncio.to_thread(leader.remove_tls_alpn01, "shop.example.test")
    await follower.refresh_alpn()
    assert follower.tls_alpn_context("shop.example.test") is None


async def test_unknown_tokens_cannot_flood_the_api() -> None:
    blob = MemoryBlob()
    follower = SharedChallenges(lambda: blob, min_interval=0.2)
    started = time.monotonic()
    lookups = asyncio.gather(*(follower.lookup(f"{PREFIX}guess-{i}") for i in range(200)))
    answers = await asyncio.wait_for(lookups, 15)
    elapsed = time.monotonic() - started
    assert answers == [None] * 200
    # At most one read per interval, however many guesses arrive (a bound that a slow machine widens).
    assert blob.loads <= 1 + int(elapsed / 0.2) + 1, (blob.loads, elapsed)


async def test_garbage_in_the_store_is_no_answer() -> None:
    blob = MemoryBlob()
    blob.data = b"\xff not json"
    follower = SharedChallenges(lambda: blob)
    assert await follower.lookup(PREFIX + "t") is None
    blob.data = b'["a list"]'
    await asyncio.sleep(0.3)
    assert await follower.lookup(PREFIX + "t") is None
    # The leader's writes replace garbage rather than failing on it.
    leader = SharedChallenges(lambda: blob)
    await asyncio.to_thread(leader.add_http01, "t", "t.ka")
    assert await follower.lookup(PREFIX + "t") == "t.ka"


async def test_on_demand_names_reach_the_leader_in_few_writes() -> None:
    blob = MemoryBlob()
    follower, leader = OnDemandRelay(lambda: blob, min_interval=0.1), OnDemandRelay(lambda: blob)
    follower.start()
    for i in range(30):  # handshakes keep missing, some names again and again
        follower.request(f"Site-{i % 10}.example.test.")
        await asyncio.sleep(0.005)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while len(json.loads(blob.data or b"{}")) < 10:
        assert loop.time() < deadline, blob.data
        await asyncio.sleep(0.02)
    assert blob.updates <= 4  # one write per interval, not one per handshake
    assert await leader.take() == [f"site-{i}.example.test" for i in range(10)]
    assert await leader.take() == []  # taken once
    updates = blob.updates
    follower.request("site-1.example.test")  # already handed over: cooldown
    await asyncio.sleep(0.3)
    assert blob.updates == updates and await leader.take() == []
    await follower.stop()
