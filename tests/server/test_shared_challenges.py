"""HTTP-01 answers shared between replicas through a blob store (a Kubernetes Secret in production).

The store here is an in-memory BlobStore with the same contract as SecretStore (load_bytes, update
with read-modify-write); the end-to-end path through the API server and Pebble is tests/ha/test_acme_ha.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from ingressctl.server.acme import SharedChallenges

pytestmark = pytest.mark.timeout(20)

PREFIX = "/.well-known/acme-challenge/"


class MemoryBlob:
    def __init__(self) -> None:
        self.data: bytes | None = None
        self.loads = 0
        self._lock = threading.Lock()

    def load_bytes(self) -> bytes | None:
        with self._lock:
            self.loads += 1
            return self.data

    def update(self, fn: Callable[[bytes | None], bytes], /) -> bytes:
        with self._lock:
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
    started = time.monotonic()
    assert await follower.lookup(PREFIX + "t1") == "t1.key-auth"
    assert time.monotonic() - started < 1.0
    await asyncio.to_thread(leader.remove_http01, "t1")
    await asyncio.to_thread(leader.add_http01, "t2", "t2.key-auth")
    assert leader.http01_response(PREFIX + "t1") is None
    assert await follower.lookup(PREFIX + "t2") == "t2.key-auth"
    assert await follower.lookup("/other") is None


async def test_unknown_tokens_cannot_flood_the_api() -> None:
    blob = MemoryBlob()
    follower = SharedChallenges(lambda: blob, min_interval=0.2)
    started = time.monotonic()
    answers = await asyncio.gather(*(follower.lookup(f"{PREFIX}guess-{i}") for i in range(200)))
    elapsed = time.monotonic() - started
    assert answers == [None] * 200
    assert blob.loads <= 1 + int(elapsed / 0.2) + 1, (blob.loads, elapsed)
    assert elapsed < 2.0


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
