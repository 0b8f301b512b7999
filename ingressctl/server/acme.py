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
CA's request looks the token up there (server/acme_shared.py). Leadership moving starts a fresh manager
on the new leader, which adopts the stored account and certificates, and the ledger (`NAME-ratelimits`)
with the orders the old leader placed. The manager's order events (`on_event`) feed the metrics and the
orders held back that /api/certificates lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.acme.challenges import HTTP01_PREFIX
from ingressctl.acme.events import AcmeEvent, EventKind
from ingressctl.acme.storage import BlobStore, Storage
from ingressctl.model.config import AcmeConfig
from ingressctl.proxy.plan import Table, TablePlan
from ingressctl.routing.hosts import tls_host_covers
from ingressctl.server.acme_shared import OnDemandRelay, SharedChallenges

if TYPE_CHECKING:  # imported when ACME starts: it pulls in the ACME protocol stack
    import ssl

    from ingressctl.acme.manager import CertificateManager
    from ingressctl.server.cluster import ClusterControl
    from ingressctl.tls.store import CertificateInput, CertificateStore

log = logging.getLogger("ingressctl.acme")

StorageFactory = Callable[[], Storage]
LedgerFactory = Callable[[], BlobStore]  # where the rate-limit ledger lives (a Secret, with Secret storage)


class AcmeMetrics(Protocol):
    """What the integration reports to (ingressctl.api.metrics.Metrics)."""

    def on_acme_order(self, result: str) -> None: ...

    def on_acme_failure(self, reason: str = "error") -> None: ...

    def on_acme_hold(self, names: tuple[str, ...], retry_at: float | None, reason: str = "") -> None: ...


class AcmeIntegration:
    def __init__(
        self,
        config: AcmeConfig,
        store: CertificateStore | None,
        *,
        storage: StorageFactory | None = None,
        ledger: LedgerFactory | None = None,
        shared_challenges: SharedChallenges | None = None,
        cluster: ClusterControl | None = None,
        metrics: AcmeMetrics | None = None,
        reload_seconds: float = 10.0,
        on_demand_relay: OnDemandRelay | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._storage_factory = storage
        self._ledger_factory = ledger
        self.shared = shared_challenges
        self.cluster = cluster  # ClusterControl, or None: this process always orders
        self.metrics = metrics
        self.reload_seconds = reload_seconds
        self.relay = on_demand_relay if config.on_demand else None
        self._relaying: asyncio.Task[None] | None = None
        self._issued: dict[str, CertificateInput] = {}
        self._installed: dict[str, tuple[bytes, bytes]] = {}
        self._hosts: tuple[set[str], set[str]] | None = None
        self.manager: CertificateManager | None = None
        self._started = False
        self._transition: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._wanted_leading = False
        self._loop: asyncio.AbstractEventLoop | None = None
        if cluster is None:
            self.manager = self._new_manager()

    # ------------------------------------------------------------ lifecycle

    def _new_manager(self) -> CertificateManager:
        from ingressctl.acme import CertificateManager

        storage = self._storage_factory() if self._storage_factory is not None else None
        ledger_store = self._ledger_factory() if self._ledger_factory is not None else None
        manager = CertificateManager(
            self.config,
            on_certificate=self._on_certificate,
            on_event=self._on_event,
            storage=storage,
            ledger_store=ledger_store,
        )
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

    def _tls_alpn_context(self, server_name: str | None) -> ssl.SSLContext | None:
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

    def _on_event(self, kind: EventKind, event: AcmeEvent) -> None:
        """The manager's order events (on the event loop) → the metrics and /api/certificates."""
        metrics = self.metrics
        if metrics is None:
            return
        if kind is EventKind.HELD:
            metrics.on_acme_failure("rate_limit_guard")  # refused before any order was placed
            metrics.on_acme_hold(event.names, event.retry_at, event.reason)
        elif kind is EventKind.RELEASED:
            metrics.on_acme_hold(event.names, None)
        else:
            metrics.on_acme_order(kind.value)
            if event.code:
                metrics.on_acme_failure(event.code)

    def _on_certificate(self, main: str, sans: tuple[str, ...], cert_pem: bytes, key_pem: bytes) -> None:
        if self._installed.get(main) == (cert_pem, key_pem):
            return
        self._installed[main] = (cert_pem, key_pem)
        if self.store is None:
            return
        from ingressctl.tls.index import CertificateSource
        from ingressctl.tls.store import CertificateInput

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
