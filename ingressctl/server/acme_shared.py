"""ACME state that replicas share through Kubernetes Secrets: pending challenge answers (the leader
orders, any replica may receive the CA's validation request) and onDemand names a follower's handshake
missed (the leader gates and orders them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ingressctl.acme.challenges import HTTP01_PREFIX, ChallengeStore
from ingressctl.acme.storage import BlobStore

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("ingressctl.acme")


# Key prefix of TLS-ALPN-01 answers in the shared blob (HTTP-01 tokens are base64url: never a ":").
ALPN_KEY = "tls-alpn-01:"
# How often a follower reads the shared answers while TLS-ALPN-01 is the challenge: a TLS handshake
# cannot wait for a read, so followers hold every pending answer before the CA connects.
ALPN_POLL_SECONDS = 1.0


class SharedChallenges(ChallengeStore):
    """A ChallengeStore whose answers are also kept in a shared blob (a Kubernetes Secret).

    `add_*`/`remove_*` run in the ACME flow's thread (blocking writes are fine there); the write
    completes before the flow answers the challenge, so the CA can reach any replica.
    HTTP-01: `lookup()` is what other replicas call for a token they do not hold: it reads the blob
    (at most every `min_interval` seconds, whatever the request rate) in a thread.
    TLS-ALPN-01: the SNI callback cannot wait for a read, so followers read the blob every
    `alpn_poll` seconds (`refresh_alpn()`), and the leader waits that long plus a margin after
    writing an answer before the CA is told to validate.
    """

    def __init__(
        self, blob: Callable[[], BlobStore], min_interval: float = 0.25, alpn_poll: float = ALPN_POLL_SECONDS
    ) -> None:
        super().__init__()
        self.alpn_poll = alpn_poll
        self._remote_alpn = ChallengeStore()  # the leader's TLS-ALPN-01 answers, as last read
        self._remote_alpn_keys: dict[str, str] = {}
        self._blob_factory = blob  # -> BlobStore (load_bytes() / update(fn)); built on first use
        self._blob: BlobStore | None = None
        self.min_interval = min_interval
        self._remote: dict[str, str] = {}
        self._started = -min_interval  # monotonic time the last read started
        self._fetching: asyncio.Future[None] | None = None
        self.reads = 0

    @property
    def blob(self) -> BlobStore:
        if self._blob is None:
            self._blob = self._blob_factory()
        return self._blob

    @staticmethod
    def _decode(data: bytes | None) -> dict[str, str]:
        if not data:
            return {}
        try:
            doc = json.loads(data)
        except ValueError:
            return {}
        if not isinstance(doc, dict):
            return {}
        return {str(k): str(v) for k, v in doc.items() if isinstance(v, str)}

    def _change(self, token: str, value: str | None) -> None:
        def change(current: bytes | None) -> bytes:
            doc = self._decode(current)
            if value is None:
                doc.pop(token, None)
            else:
                doc[token] = value
            return json.dumps(doc, sort_keys=True).encode()

        try:
            self.blob.update(change)
        except Exception as exc:  # the CA may still reach this replica; say why the others cannot answer
            log.warning("ACME: could not share the HTTP-01 answer with other replicas: %s", exc)

    def add_http01(self, token: str, key_authorization: str) -> None:
        super().add_http01(token, key_authorization)
        self._change(token, key_authorization)

    def remove_http01(self, token: str) -> None:
        super().remove_http01(token)
        self._change(token, None)

    def add_tls_alpn01(self, domain: str, key_authorization: str) -> None:
        super().add_tls_alpn01(domain, key_authorization)
        self._change(ALPN_KEY + domain.lower(), key_authorization)
        # Let every follower's next read pass before the CA connects to one of them.
        time.sleep(self.alpn_poll * 1.5)

    def remove_tls_alpn01(self, domain: str) -> None:
        super().remove_tls_alpn01(domain)
        self._change(ALPN_KEY + domain.lower(), None)

    def tls_alpn_context(self, server_name: str | None) -> ssl.SSLContext | None:
        return super().tls_alpn_context(server_name) or self._remote_alpn.tls_alpn_context(server_name)

    async def refresh_alpn(self) -> None:
        """Follower: read the leader's pending TLS-ALPN-01 answers and build their certificates."""
        data = await asyncio.to_thread(self.blob.load_bytes)
        wanted = {
            key[len(ALPN_KEY) :]: value
            for key, value in self._decode(data).items()
            if key.startswith(ALPN_KEY)
        }
        for domain in [d for d in self._remote_alpn_keys if wanted.get(d) != self._remote_alpn_keys[d]]:
            self._remote_alpn.remove_tls_alpn01(domain)
            del self._remote_alpn_keys[domain]
        for domain, key_authorization in wanted.items():
            if domain not in self._remote_alpn_keys:
                # A key and a self-signed certificate: a few milliseconds, off the loop.
                await asyncio.to_thread(self._remote_alpn.add_tls_alpn01, domain, key_authorization)
                self._remote_alpn_keys[domain] = key_authorization

    async def lookup(self, path: str) -> str | None:
        """The answer for a token this replica does not hold, read from the shared store.

        Never answers from a read older than the request (the leader may have written the token a
        moment ago), and never reads more than once per `min_interval`, however many requests for
        unknown tokens arrive: a request waits for the next read instead, and concurrent ones share it.
        """
        if not path.startswith(HTTP01_PREFIX):
            return None
        token = path[len(HTTP01_PREFIX) :]
        if ALPN_KEY in token:  # HTTP-01 tokens are base64url; this is a TLS-ALPN-01 entry of the blob
            return None
        local = self.http01_response(path)
        if local is not None:
            return local
        if token in self._remote:
            return self._remote[token]
        arrived = time.monotonic()
        for _ in range(3):
            if self._fetching is None:
                wait = self._started + self.min_interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._fetching is None:
                    self._started = time.monotonic()
                    self._fetching = asyncio.ensure_future(self._fetch())
            fetching = self._fetching
            started = self._started
            await asyncio.shield(fetching)
            if self._fetching is fetching:
                self._fetching = None
            if token in self._remote or started >= arrived:
                break
        return self._remote.get(token)

    async def _fetch(self) -> None:
        try:
            data = await asyncio.to_thread(self.blob.load_bytes)
        except Exception as exc:
            log.warning("ACME: cannot read the shared HTTP-01 answers: %s", exc)
            return
        self._remote = self._decode(data)
        self.reads += 1


class OnDemandRelay:
    """onDemand with several replicas: a follower hands the SNI names that found no certificate to the
    leader through a shared blob; the leader passes them through the manager's gate (Ingress hosts,
    allow-list, ask URL, cooldown, hourly cap) exactly as if its own handshake had missed.

    A follower writes at most once per `min_interval` and keeps at most `max_pending` names (a flood
    of invented SNI names costs a bounded number of small writes); names it already handed over are
    not handed over again for `cooldown` seconds.
    """

    def __init__(
        self,
        blob: Callable[[], BlobStore],
        *,
        min_interval: float = 1.0,
        max_pending: int = 64,
        cooldown: float = 300.0,
    ) -> None:
        self._blob_factory = blob
        self._blob: BlobStore | None = None
        self.min_interval = min_interval
        self.max_pending = max_pending
        self.cooldown = cooldown
        self._pending: set[str] = set()
        self._writing: set[str] = set()
        self._sent: dict[str, float] = {}
        self._flushing: asyncio.Task[None] | None = None
        self._last_write = -min_interval
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def blob(self) -> BlobStore:
        if self._blob is None:
            self._blob = self._blob_factory()
        return self._blob

    @staticmethod
    def _decode(data: bytes | None) -> dict[str, float]:
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            return {}
        if not isinstance(doc, dict):
            return {}
        return {str(k): float(v) for k, v in doc.items() if isinstance(v, int | float)}

    # ---------------------------------------------------------------- follower

    def request(self, name: str) -> None:
        """From the SNI callback (any thread): remember `name` and write it out soon."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            loop.call_soon_threadsafe(self.request, name)
            return
        name = name.strip().lower().rstrip(".")
        now = time.monotonic()
        if not name or name in self._writing or now - self._sent.get(name, -self.cooldown) < self.cooldown:
            return
        if len(self._pending) >= self.max_pending:
            return
        self._pending.add(name)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flushing

    async def _flush(self) -> None:
        wait = self._last_write + self.min_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        names, self._pending = sorted(self._pending), set()
        if not names:
            return
        self._last_write = time.monotonic()
        stamp = time.time()

        def change(current: bytes | None) -> bytes:
            doc = self._decode(current)
            for name in names:
                doc.setdefault(name, stamp)
            if len(doc) > 4 * self.max_pending:  # a leader that never reads: keep the newest only
                doc = dict(sorted(doc.items(), key=lambda kv: kv[1])[-4 * self.max_pending :])
            return json.dumps(doc, sort_keys=True).encode()

        self._writing = set(names)
        try:
            await asyncio.to_thread(self.blob.update, change)
        except Exception as exc:
            log.warning("ACME on-demand: cannot hand %s to the leader: %s", ", ".join(names), exc)
        else:
            now = time.monotonic()
            self._sent = {n: t for n, t in self._sent.items() if now - t < self.cooldown}
            for name in names:
                self._sent[name] = now
            log.info("ACME on-demand: asked the leader for %s", ", ".join(names))
        finally:
            self._writing = set()
        if self._pending:  # names that missed while this write was under way
            self._flushing = asyncio.ensure_future(self._flush())

    # ---------------------------------------------------------------- leader

    async def take(self) -> list[str]:
        """The names followers asked for (and clear them). Reads first: no write while nothing waits."""
        current = self._decode(await asyncio.to_thread(self.blob.load_bytes))
        if not current:
            return []
        taken: dict[str, float] = {}

        def change(data: bytes | None) -> bytes:
            taken.clear()
            taken.update(self._decode(data))
            return b"{}"

        await asyncio.to_thread(self.blob.update, change)
        return sorted(taken)
