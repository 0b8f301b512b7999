"""ACME in the running server: the certificate manager wired to the proxy and the certificate store.

- HTTP-01: a pre-routing hook answers `/.well-known/acme-challenge/TOKEN` for pending tokens on
  every entrypoint, before redirects and auth (unknown tokens fall through to the routes, so an
  application's own ACME client keeps working).
- TLS-ALPN-01: the store asks the manager for a challenge context during the handshake.
- onHostRule: after each reload the manager learns the table's TLS hosts (and which a Secret covers).
- onDemand: SNI names that got only the default certificate are offered to the manager (it gates them).
- Issued and stored certificates go into the store as the ACME source.

With several replicas (a `ClusterControl` is given) only the leader runs the manager, i.e. orders and
renews. Every replica serves the certificates: followers read the shared storage (a Kubernetes Secret)
every `reload_seconds` and install what is new. The leader also writes each pending HTTP-01 answer to
a shared store (`SharedChallenges`) before telling the CA to validate, so a follower that receives the
CA's request looks the token up there. Leadership moving starts a fresh manager on the new leader,
which adopts the stored account and certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.acme.challenges import HTTP01_PREFIX, ChallengeStore
from ingressctl.model.config import AcmeConfig
from ingressctl.proxy.plan import Table, TablePlan
from ingressctl.routing.hosts import tls_host_covers

log = logging.getLogger("ingressctl.acme")

StorageFactory = Callable[[], Any]  # -> ingressctl.acme.storage.Storage


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
        self, blob: Callable[[], Any], min_interval: float = 0.25, alpn_poll: float = ALPN_POLL_SECONDS
    ) -> None:
        super().__init__()
        self.alpn_poll = alpn_poll
        self._remote_alpn = ChallengeStore()  # the leader's TLS-ALPN-01 answers, as last read
        self._remote_alpn_keys: dict[str, str] = {}
        self._blob_factory = blob  # -> BlobStore (load_bytes() / update(fn)); built on first use
        self._blob: Any = None
        self.min_interval = min_interval
        self._remote: dict[str, str] = {}
        self._started = -min_interval  # monotonic time the last read started
        self._fetching: asyncio.Future[None] | None = None
        self.reads = 0

    @property
    def blob(self) -> Any:
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

    def tls_alpn_context(self, server_name: str | None) -> Any:
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
        blob: Callable[[], Any],
        *,
        min_interval: float = 1.0,
        max_pending: int = 64,
        cooldown: float = 300.0,
    ) -> None:
        self._blob_factory = blob
        self._blob: Any = None
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
    def blob(self) -> Any:
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


class AcmeIntegration:
    def __init__(
        self,
        config: AcmeConfig,
        store: Any,
        *,
        storage: StorageFactory | None = None,
        shared_challenges: SharedChallenges | None = None,
        cluster: Any = None,
        metrics: Any = None,
        reload_seconds: float = 10.0,
        on_demand_relay: OnDemandRelay | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._storage_factory = storage
        self.shared = shared_challenges
        self.cluster = cluster  # ClusterControl, or None: this process always orders
        self.metrics = metrics
        self.reload_seconds = reload_seconds
        self.relay = on_demand_relay if config.on_demand else None
        self._relaying: asyncio.Task[None] | None = None
        self._issued: dict[str, Any] = {}
        self._installed: dict[str, tuple[bytes, bytes]] = {}
        self._hosts: tuple[set[str], set[str]] | None = None
        self.manager: Any = None
        self._started = False
        self._transition: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._wanted_leading = False
        self._loop: asyncio.AbstractEventLoop | None = None
        if cluster is None:
            self.manager = self._new_manager()

    # ------------------------------------------------------------ lifecycle

    def _new_manager(self) -> Any:
        from ingressctl.acme import AcmeError, CertificateManager

        integration = self

        class _Observed(CertificateManager):
            """The manager, reporting each order's outcome to the metrics."""

            def _issue_sync(self, names: tuple[str, ...]) -> Any:
                try:
                    issued = super()._issue_sync(names)
                except AcmeError as exc:
                    # A problem document from the CA: it refused. Without one: we could not finish.
                    refused = bool(exc.code) and exc.code not in ("timeout", "badNonce")
                    integration._count("invalid" if refused else "error", exc.code or "error")
                    raise
                except Exception as exc:
                    integration._count("error", type(exc).__name__)
                    raise
                integration._count("valid")
                return issued

            def _failed(self, entry: Any, message: str, retry_at: float, reason: str) -> None:
                if message.startswith("rate-limit guard"):  # refused before any order was placed
                    integration._count("", "rate_limit_guard")
                super()._failed(entry, message, retry_at, reason)

        storage = self._storage_factory() if self._storage_factory is not None else None
        manager = _Observed(self.config, on_certificate=self._on_certificate, storage=storage)
        if self.shared is not None:
            manager.challenges = self.shared
        return manager

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        store = self.store
        if store is not None:
            if self.config.challenge == "tls-alpn-01":
                store.set_alpn_challenge_provider(self._tls_alpn_context)
            if self.config.on_demand:
                store.set_miss_listener(self._on_demand)
        self._started = True
        if self.relay is not None:
            self.relay.start()
        if self.cluster is None:
            await self._start_manager()
            return
        self.cluster.subscribe(self._leadership)

    async def stop(self) -> None:
        self._started = False
        if self.relay is not None:
            await self.relay.stop()
        for task in (self._transition, self._follower, self._relaying):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._stop_manager()

    async def _start_manager(self) -> None:
        if self.manager is None:
            self.manager = self._new_manager()
        await self.manager.start()
        if self._hosts is not None:
            self.manager.set_hosts(*self._hosts)
        if self.relay is not None and self.cluster is not None:
            self._relaying = asyncio.ensure_future(self._relay_loop())

    async def _stop_manager(self) -> None:
        if self._relaying is not None:
            self._relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._relaying
            self._relaying = None
        manager, self.manager = self.manager, None
        if manager is not None:
            with contextlib.suppress(Exception):
                await manager.stop()

    # ------------------------------------------------------------ leadership (several replicas)

    def _leadership(self, leading: bool) -> None:
        self._wanted_leading = leading
        previous = self._transition
        self._transition = asyncio.ensure_future(self._switch(previous, leading))

    async def _switch(self, previous: asyncio.Task[None] | None, leading: bool) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        if not self._started or leading != self._wanted_leading:
            return
        if leading:
            if self._follower is not None:
                self._follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._follower
                self._follower = None
            log.info("ACME: this replica leads: it orders and renews certificates")
            try:
                await self._start_manager()
            except Exception as exc:
                log.error("ACME: cannot start certificate management: %s; retrying as follower", exc)
                await self._stop_manager()
                self._follower = asyncio.ensure_future(self._follow())
        else:
            if self.manager is not None:
                log.info("ACME: this replica no longer leads: it stops ordering, and serves what is stored")
            await self._stop_manager()
            if self._follower is None:
                self._follower = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        """Follower: install the certificates the leader stored, as they appear; with TLS-ALPN-01,
        also keep the leader's pending challenge answers."""
        if self._storage_factory is None:
            return
        alpn = None
        if self.config.challenge == "tls-alpn-01" and self.shared is not None:
            alpn = asyncio.ensure_future(self._follow_alpn(self.shared))
        try:
            await self._follow_certificates()
        finally:
            if alpn is not None:
                alpn.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await alpn

    async def _follow_alpn(self, shared: SharedChallenges) -> None:
        await _repeat(
            shared.refresh_alpn, shared.alpn_poll, "ACME: cannot read the leader's TLS-ALPN-01 answers"
        )

    async def _follow_certificates(self) -> None:
        assert self._storage_factory is not None
        storage = self._storage_factory()

        async def install() -> None:
            resolver = await asyncio.to_thread(storage.load)
            for record in resolver.certificates:
                self._on_certificate(record.main, tuple(record.sans), record.certificate, record.key)

        await _repeat(
            install, self.reload_seconds, f"ACME: cannot read the stored certificates ({storage.describe()})"
        )

    async def _relay_loop(self) -> None:
        """Leader: order (through the manager's gate) what followers' handshakes asked for."""
        assert self.relay is not None
        interval = min(2.0, self.reload_seconds)
        while True:
            try:
                for name in await self.relay.take():
                    if self.manager is not None:
                        self.manager.request_on_demand(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ACME on-demand: cannot read the followers' requests: %s", exc)
            await asyncio.sleep(interval)

    # ------------------------------------------------------------ what the server calls

    async def http01_hook(self, request: BaseRequest, entrypoint: str) -> StreamResponse | None:
        path = request.path
        if not path.startswith(HTTP01_PREFIX):
            return None
        answer = self.manager.http01_response(path) if self.manager is not None else None
        if answer is None and self.shared is not None:
            answer = await self.shared.lookup(path)
        if answer is None:
            return None
        return web.Response(text=answer, content_type="application/octet-stream")

    def _tls_alpn_context(self, server_name: str | None) -> Any:
        manager = self.manager
        if manager is not None:
            return manager.tls_alpn_context(server_name)
        # A follower: the leader's answers, as last read from the shared store.
        return self.shared.tls_alpn_context(server_name) if self.shared is not None else None

    def _on_demand(self, server_name: str) -> None:
        manager = self.manager
        if manager is not None:
            manager.request_on_demand(server_name)
        elif self.relay is not None:
            self.relay.request(server_name)

    def on_table(self, table: Table, plan: TablePlan | None = None) -> None:
        hosts = {r.host for r in table.routes if r.host and r.tls is not None}
        if plan is not None:
            # onHostRule as in Traefik v1: every host routed on the ACME entrypoint gets a certificate,
            # with or without a spec.tls section (the classic guides write none).
            hosts |= {r.host for r in plan.table_for(self.config.entrypoint).routes if r.host}
        from_secrets = {
            host
            for host in hosts
            for cert in table.certificates
            if any(tls_host_covers(h, host) for h in cert.hosts)
        }
        self._hosts = (hosts, from_secrets)
        if self.manager is not None:
            self.manager.set_hosts(hosts, from_secrets)

    # ------------------------------------------------------------ results

    def _count(self, result: str, failure: str = "") -> None:
        """Count on the event loop (called from the ACME flow's threads; the counters are plain dicts)."""
        if self.metrics is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self._count, result, failure)
                return
        if result:
            self.metrics.on_acme_order(result)
        if failure:
            self.metrics.on_acme_failure(failure)

    def _on_certificate(self, main: str, sans: tuple[str, ...], cert_pem: bytes, key_pem: bytes) -> None:
        if self._installed.get(main) == (cert_pem, key_pem):
            return
        self._installed[main] = (cert_pem, key_pem)
        if self.store is None:
            return
        from ingressctl.tls.store import CertificateInput, CertificateSource

        self._issued[main] = CertificateInput(cert_pem, key_pem, f"ACME {main}")
        self.store.replace(CertificateSource.ACME, list(self._issued.values()))
        log.info("ACME certificate for %s installed", ", ".join((main, *sans)))


async def _repeat(step: Callable[[], Awaitable[None]], seconds: float, failing: str) -> None:
    """Run `step` every `seconds` for ever; the first failure of a run of failures is logged."""
    failures = 0
    while True:
        try:
            await step()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            if failures == 1:
                log.warning("%s: %s", failing, exc)
        await asyncio.sleep(seconds)
