"""The certificate manager `serve` runs: obtains, stores, renews and hands out ACME certificates.

Owned by the server's event loop. The blocking `acme` flow runs in worker threads (`asyncio.to_thread`);
results come back to the loop, which calls `on_certificate` so the TLS store serves them at once.

- onHostRule: `set_hosts()` requests a certificate for every TLS host without a Secret as soon as it appears.
- onDemand: `request_on_demand()` from the SNI callback, behind a gate (Ingress hosts, allow-list, ask URL),
  a per-name cooldown and a global hourly cap; calls to the ask URL are rate- and concurrency-limited and
  the names remembered are capped (acme/gate.py); it never blocks the handshake.
- Renewal when a third of the lifetime remains (jittered earlier), retried with back-off; failures are
  logged at ERROR and shown in `certificates()`; the old certificate keeps serving meanwhile.
- Every order passes the persistent `RateLimitLedger` first, and is written down in its journal before
  it is placed: an order a dead process left behind is resumed, not placed again. An order the guard
  holds back is reported once (log line, `on_event(HELD)`) with the time of the next attempt.
- A stored account is used as it is: no newAccount request at start.
- A change of CA (caServer) registers at the new CA and re-issues every stored certificate from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import re
import ssl
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from cryptography import x509

from ingressctl.acme.ca import resolve_ca_server, same_ca
from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.errors import AcmeError
from ingressctl.acme.events import AcmeEvent, EventKind, ManagedCertificate, OnCertificate, OnEvent
from ingressctl.acme.files import LockedFile
from ingressctl.acme.gate import OnDemandGate
from ingressctl.acme.keys import (
    KEY_TYPES,
)
from ingressctl.acme.ledger import Decision, Outcome, PendingOrder, RateLimitLedger, outcome_of
from ingressctl.acme.ordering import OrderDesk
from ingressctl.acme.storage import AcmeJsonStorage, BlobStore, CertRecord, Storage
from ingressctl.model import ConfigError, UsageError
from ingressctl.model.config import AcmeConfig

log = logging.getLogger("ingressctl.acme")

__all__ = ["CertificateManager", "ManagedCertificate", "OnCertificate"]

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
)


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".")


def _matches(pattern: str, name: str) -> bool:
    """`*.example.com` covers exactly one extra label, as in the routing rules."""
    pattern = _normal(pattern)
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


@dataclass(slots=True)
class _Entry:
    info: ManagedCertificate
    record: CertRecord | None = None
    leaf: x509.Certificate | None = None
    due: float = 0.0  # epoch seconds of the next attempt (renewal or retry); 0 = none
    pending_reason: str = ""
    held_until: float = 0.0  # the guard holds this name set back until then (reported once)


class CertificateManager:
    def __init__(
        self,
        config: AcmeConfig,
        *,
        on_certificate: OnCertificate | None = None,
        on_event: OnEvent | None = None,
        storage: Storage | None = None,
        ledger: RateLimitLedger | None = None,
        ledger_store: BlobStore | None = None,
        resolver: str = "default",
        renew_fraction: float = 1 / 3,
        jitter_fraction: float = 0.05,
        retry_base: float = 60.0,
        max_sleep: float = 3600.0,
        issue_timeout: float = 90.0,
        on_demand_cooldown: float = 300.0,
        on_demand_hourly_cap: int = 20,
        ask_cache_seconds: float = 3600.0,
        on_demand_gate: OnDemandGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        try:
            self.ca_url = resolve_ca_server(config.ca_server)
        except UsageError as exc:
            raise ConfigError(f"acme caServer: {exc}") from None
        if config.challenge not in ("http-01", "tls-alpn-01"):
            raise ConfigError(f"acme challenge {config.challenge!r}: use http-01 or tls-alpn-01")
        if config.key_type.lower() not in KEY_TYPES:
            raise ConfigError(f"acme keyType {config.key_type!r}: use one of {', '.join(KEY_TYPES)}")
        if bool(config.eab_kid) != bool(config.eab_hmac):
            raise ConfigError("acme external account binding needs both the key id and the HMAC key")
        if config.ca_bundle and not Path(config.ca_bundle).is_file():
            raise ConfigError(f"acme caBundle {config.ca_bundle}: no such file")
        if storage is None:
            if config.storage.startswith("secret:"):
                # Only the server can build it (BlobAcmeStorage over the kubernetes provider's SecretStore):
                # acme never imports providers.
                raise ConfigError(
                    f"acme storage {config.storage!r}: Secret storage needs the kubernetes provider (a "
                    "[kubernetes] section or --kubeconfig); without a cluster, use a file path (acme.json)"
                )
            storage = AcmeJsonStorage(config.storage, resolver)
        self.storage = storage
        if ledger is None:
            # The ledger lives where the certificates live: next to acme.json, or in the Secret's sibling.
            if ledger_store is None and isinstance(storage, AcmeJsonStorage):
                ledger_store = LockedFile(storage.path.with_name(storage.path.name + ".ratelimits"))
            ledger = RateLimitLedger(
                ledger_store,
                set_hourly_cap=config.orders_per_hour,
                set_weekly_cap=config.orders_per_week,
                clock=clock,
            )
        self.ledger = ledger
        self.owner = f"{uuid.uuid4().hex[:12]}"  # this manager's journal entries (others' are left-overs)
        self.on_certificate = on_certificate
        self.on_event = on_event
        self.challenges = ChallengeStore()
        self.renew_fraction = renew_fraction
        self.jitter_fraction = jitter_fraction
        self.retry_base = retry_base
        self.max_sleep = max_sleep
        self.issue_timeout = issue_timeout
        self.clock = clock
        if on_demand_gate is None:
            on_demand_gate = OnDemandGate(
                clock=clock,
                cooldown=on_demand_cooldown,
                hourly_cap=on_demand_hourly_cap,
                ask_ttl=ask_cache_seconds,
            )
        self.gate = on_demand_gate
        self._entries: dict[str, _Entry] = {}  # by main domain
        self._inflight: dict[str, asyncio.Task[None]] = {}  # by main domain
        self._desk = OrderDesk(
            config,
            self.ca_url,
            storage,
            ledger,
            resolver=resolver,
            owner=self.owner,
            issue_timeout=issue_timeout,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._hosts: set[str] = set()
        self._from_secrets: set[str] = set()
        self._stopped = False
        self._warned: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the storage (ConfigError when unsafe or corrupt), publish stored certificates, start work."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._desk.resolver = await asyncio.to_thread(self.storage.load)
        await asyncio.to_thread(self.ledger.verify)  # an unreadable ledger is a ConfigError, as storage
        account = self._desk.resolver.account
        ca_changed = False
        if account is not None and account.private_key:
            stored_ca = account.ca_server or ""
            if (stored_ca and stored_ca != self.ca_url) or (
                not stored_ca and account.uri and not same_ca(self.ca_url, account.uri)
            ):
                ca_changed = True
                log.warning(
                    "ACME CA changed from %s to %s: registering there and re-issuing %d certificate(s)",
                    stored_ca or account.uri,
                    self.ca_url,
                    len(self._desk.resolver.certificates),
                )
        for record in self._desk.resolver.certificates:
            self._adopt(record, reason="CA change" if ca_changed else "")
        for domain in self.config.domains:
            names = tuple(dict.fromkeys(_normal(n) for n in (domain.main, *domain.sans)))
            if not self._covered_all(names):
                self._want(names, "configured domain")
        self._loop_task = asyncio.create_task(self._run(), name="acme-manager")
        if self._hosts:
            self.set_hosts(self._hosts, self._from_secrets)

    async def stop(self) -> None:
        self._stopped = True
        self._desk.stopped = True
        tasks = [t for t in (self._loop_task, *self._inflight.values(), *self._side_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._inflight.clear()
        self._side_tasks.clear()

    # -- what the server calls ------------------------------------------------------------------------
    def set_hosts(self, hosts: set[str], from_secrets: set[str]) -> None:
        """The TLS hosts of the routing table, and those a Secret already covers (they take precedence)."""
        if self._loop is not None and not self._in_loop():
            self._loop.call_soon_threadsafe(self.set_hosts, set(hosts), set(from_secrets))
            return
        self._hosts = {_normal(h) for h in hosts if h}
        self._from_secrets = {_normal(h) for h in from_secrets if h}
        if self._loop is None or not self.config.on_host_rule:
            return
        wanted = self._hosts - self._from_secrets
        # A host that left the table before it got a certificate stops being retried.
        for main in list(self._entries):
            self._forget_if_unwanted(main)
        for host in sorted(wanted):
            if host.startswith("*."):
                if host not in self._warned:
                    self._warned.add(host)
                    log.warning(
                        "ACME: %s is a wildcard; HTTP-01/TLS-ALPN-01 cannot validate it, add a TLS Secret",
                        host,
                    )
                continue
            if not self._covered(host) and not self._busy(host) and not self._held_back(host):
                self._want((host,), "host rule")

    def request_on_demand(self, server_name: str) -> None:
        """A handshake asked for `server_name` and no certificate matched: maybe obtain one, in background."""
        name = _normal(server_name or "")
        if self._loop is not None and not self._in_loop():
            self._loop.call_soon_threadsafe(self.request_on_demand, name)
            return
        if self._loop is None or not self.config.on_demand or not _HOSTNAME.match(name):
            return
        if name in self._from_secrets or self._covered(name) or self._busy(name):
            return
        gate = self.gate
        if gate.cooling_down(name):
            return
        if not gate.under_hourly_cap():
            log.warning("ACME on-demand: hourly cap of %d reached; not requesting %s", gate.hourly_cap, name)
            return
        if self._allowed_without_ask(name):
            self._on_demand_accept(name)
            return
        if not self.config.on_demand_ask:
            log.info("ACME on-demand: %s is neither an Ingress host nor allowed; not requesting", name)
            return
        cached = gate.cached_answer(name)
        if cached is not None:
            if cached:
                self._on_demand_accept(name)
            return
        if gate.begin_ask(name):
            self._spawn(self._ask_then_issue(name))

    def http01_response(self, path: str) -> str | None:
        return self.challenges.http01_response(path)

    def tls_alpn_context(self, server_name: str | None) -> ssl.SSLContext | None:
        return self.challenges.tls_alpn_context(server_name)

    def certificates(self) -> list[ManagedCertificate]:
        return [e.info for _, e in sorted(self._entries.items())]

    def _in_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _forget_if_unwanted(self, main: str) -> None:
        """Drop an idle, certificate-less host-rule entry whose host left the table (no retry for it)."""
        entry = self._entries.get(main)
        if entry is None or entry.leaf is not None or main in self._inflight:
            return
        if entry.info.reason == "host rule" and main not in self._hosts - self._from_secrets:
            del self._entries[main]

    # -- gate -----------------------------------------------------------------------------------------
    def _allowed_without_ask(self, name: str) -> bool:
        if any(_matches(h, name) for h in self._hosts):
            return True
        return any(_matches(p, name) for p in self.config.on_demand_allow)

    def _on_demand_accept(self, name: str) -> None:
        self.gate.accept(name)
        self._want((name,), "on demand")

    async def _ask_then_issue(self, name: str) -> None:
        allowed = False
        try:
            allowed = await self._ask(name)
        finally:
            self.gate.end_ask(name, allowed)
        if allowed and not self._covered(name) and not self._busy(name) and self.gate.under_hourly_cap():
            self._on_demand_accept(name)

    async def _ask(self, name: str) -> bool:
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(self.config.on_demand_ask, params={"domain": name}) as resp,
            ):
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("ACME on-demand: ask URL %s failed for %s: %s", self.config.on_demand_ask, name, exc)
            return False

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _adopt(self, record: CertRecord, reason: str) -> None:
        """A stored certificate: serve it now, and schedule its renewal (or re-issue on a CA change)."""
        try:
            leaf = x509.load_pem_x509_certificate(record.certificate)
        except ValueError:
            log.error(
                "ACME storage: the certificate for %s cannot be read; requesting a new one", record.main
            )
            self._want(record.domains, "unreadable in storage")
            return
        entry = self._entry_for(record.domains)
        self._install(entry, record, leaf)
        if reason:
            entry.due = self.clock()
            entry.pending_reason = reason
        self._publish(record)

    def _publish(self, record: CertRecord) -> None:
        if self.on_certificate is None:
            return
        try:
            self.on_certificate(record.main, record.sans, record.certificate, record.key)
        except Exception:
            log.exception("ACME: the certificate store rejected the certificate for %s", record.main)

    def _entry_for(self, names: tuple[str, ...]) -> _Entry:
        main = names[0]
        entry = self._entries.get(main)
        if entry is None:
            entry = _Entry(ManagedCertificate(main=main, sans=tuple(names[1:])))
            self._entries[main] = entry
        return entry

    def _install(self, entry: _Entry, record: CertRecord, leaf: x509.Certificate) -> None:
        nb, na = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        lifetime = (na - nb).total_seconds()
        margin = lifetime * (self.renew_fraction + random.uniform(0, self.jitter_fraction))
        renew_at = na.timestamp() - margin
        entry.record, entry.leaf = record, leaf
        entry.due, entry.pending_reason = renew_at, "renewal"
        issuer = leaf.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        entry.info.sans = record.sans
        entry.info.status = "valid"
        entry.info.not_before, entry.info.not_after = nb, na
        entry.info.renew_at = datetime.datetime.fromtimestamp(renew_at, datetime.UTC)
        entry.info.issuer = str(issuer[0].value) if issuer else leaf.issuer.rfc4514_string()
        entry.info.last_error, entry.info.retry_at = "", None

    def _valid_entries(self) -> Iterable[_Entry]:
        now = self.clock()
        for entry in self._entries.values():
            if entry.leaf is not None and entry.leaf.not_valid_after_utc.timestamp() > now:
                yield entry

    def _covered(self, name: str) -> bool:
        return any(any(_matches(d, name) for d in e.info.domains) for e in self._valid_entries())

    def _covered_all(self, names: tuple[str, ...]) -> bool:
        return all(self._covered(n) for n in names)

    def _held_back(self, name: str) -> bool:
        """The guard holds this name's order back: the manager comes back to it at `due` by itself."""
        entry = self._entries.get(name)
        return entry is not None and entry.held_until > self.clock()

    def _busy(self, name: str) -> bool:
        return any(
            name in self._entries[main].info.domains for main in self._inflight if main in self._entries
        )

    def _want(self, names: tuple[str, ...], reason: str) -> None:
        entry = self._entry_for(names)
        entry.info.reason = reason
        self._start_issue(entry, reason)

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _start_issue(self, entry: _Entry, reason: str) -> None:
        main = entry.info.main
        if main in self._inflight or self._stopped:
            return
        entry.due = 0.0
        task = asyncio.create_task(self._issue(entry, reason), name=f"acme-issue-{main}")
        self._inflight[main] = task

        def finished(_task: asyncio.Task[None]) -> None:
            self._inflight.pop(main, None)
            # The host may have left the table while this order was under way.
            if self.config.on_host_rule:
                self._forget_if_unwanted(main)

        task.add_done_callback(finished)

    # -- the work -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        """Wake at the earliest due time (renewal or retry), or when poked."""
        assert self._wakeup is not None
        while not self._stopped:
            now = self.clock()
            due = [e for e in self._entries.values() if e.due and e.due <= now]
            for entry in due:
                self._start_issue(entry, entry.pending_reason or "renewal")
            upcoming = [e.due for e in self._entries.values() if e.due and e.info.main not in self._inflight]
            sleep = min([self.max_sleep, *[max(0.05, t - now) for t in upcoming]])
            self._wakeup.clear()
            # Not asyncio.wait_for: on 3.11 it swallows a cancel that races with the wakeup.
            waiter = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({waiter}, timeout=sleep)
            finally:
                waiter.cancel()

    async def _issue(self, entry: _Entry, reason: str) -> None:
        names = entry.info.domains
        try:
            resume = await self._left_over(names)
            if resume is None:
                decision = await asyncio.to_thread(self.ledger.check, names)
                if not decision.allowed:
                    self._held(entry, decision, reason)
                    return
        except (ConfigError, OSError) as exc:  # the ledger cannot be read: never order blind
            self._failed(entry, str(exc), self.clock() + self.retry_base, reason)
            return
        self._release(entry)
        renewing = entry.leaf is not None
        entry.info.status = "renewing" if renewing else "pending"
        log.info("ACME: requesting a certificate for %s (%s)", ", ".join(names), reason)
        try:
            issued = await asyncio.to_thread(self._desk.issue, names, self.challenges, resume)
        except AcmeError as exc:
            outcome = outcome_of(exc.code)
            kind = EventKind.ORDER_REFUSED if outcome is Outcome.REFUSED else EventKind.ORDER_FAILED
            self._emit(kind, AcmeEvent(names, code=exc.code or "error"))
            retry_at = await self._order_ended(names, outcome)
            if exc.retry_after is not None:
                retry_at = max(retry_at, exc.retry_after.timestamp())
            self._failed(entry, str(exc), retry_at, reason)
            return
        except Exception as exc:  # storage refused or unwritable, or a bug: retry, loudly
            if not isinstance(exc, ConfigError | OSError):
                log.exception("ACME: unexpected error while obtaining %s", ", ".join(names))
            self._emit(EventKind.ORDER_FAILED, AcmeEvent(names, code=type(exc).__name__))
            retry_at = await self._order_ended(names, Outcome.UNKNOWN)
            message = str(exc) if isinstance(exc, ConfigError | OSError) else f"unexpected error: {exc!r}"
            self._failed(entry, message, retry_at, reason)
            return
        self._emit(EventKind.ORDER_VALID, AcmeEvent(names))
        record = CertRecord(
            main=names[0], sans=tuple(names[1:]), certificate=issued.fullchain_pem, key=issued.key_pem
        )
        leaf = x509.load_pem_x509_certificate(issued.fullchain_pem)
        self._install(entry, record, leaf)
        entry.info.reason = reason
        log.info(
            "ACME: obtained a certificate for %s, valid until %s", ", ".join(names), entry.info.not_after
        )
        self._publish(record)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _order_ended(self, names: tuple[str, ...], outcome: Outcome) -> float:
        """Record a failed order's outcome; returns when to try again (the back-off, at least retry_base)."""
        retry_at = self.clock() + self.retry_base
        with contextlib.suppress(ConfigError, OSError):  # the ledger itself may be what failed
            await asyncio.to_thread(self.ledger.finish_order, names, outcome)
            after = await asyncio.to_thread(self.ledger.check, names)
            retry_at = max(retry_at, after.retry_at) if not after.allowed else retry_at
        return retry_at

    async def _left_over(self, names: tuple[str, ...]) -> PendingOrder | None:
        """An order for `names` that a dead process left in the journal, to resume (None if none).

        Claiming it counts it as a failed attempt (back-off), once; an entry without a URL (the process
        died before the CA answered newOrder) has nothing to resume, so the guard decides as usual.
        """
        left = await asyncio.to_thread(self.ledger.claim_left_over, names, self.owner)
        if left is None:
            return None
        started = datetime.datetime.fromtimestamp(left.started, datetime.UTC).isoformat(timespec="seconds")
        if left.url:
            log.warning(
                "ACME: the order for %s placed at %s was left unfinished (the process stopped): resuming "
                "it (%s) instead of placing a new one",
                ", ".join(names),
                started,
                left.url,
            )
        else:
            log.warning(
                "ACME: an order for %s was begun at %s by a process that stopped before the CA answered: "
                "counted as a failed attempt",
                ", ".join(names),
                started,
            )
        return left if left.url else None

    def _emit(self, kind: EventKind, event: AcmeEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(kind, event)
        except Exception:
            log.exception("ACME: an event handler failed for %s", kind.value)

    def _held(self, entry: _Entry, decision: Decision, reason: str) -> None:
        """The guard holds the order back: say so once (per hold), and come back at `retry_at`."""
        entry.info.status = "renewing" if entry.leaf is not None else "held"
        entry.info.last_error = f"rate-limit guard: {decision.reason}"
        entry.info.retry_at = datetime.datetime.fromtimestamp(decision.retry_at, datetime.UTC)
        entry.due, entry.pending_reason = decision.retry_at, reason
        if entry.held_until != decision.retry_at:
            entry.held_until = decision.retry_at
            log.warning(
                "ACME: holding back the order for %s (rate-limit guard: %s); next attempt at %s",
                ", ".join(entry.info.domains),
                decision.reason,
                entry.info.retry_at.isoformat(timespec="seconds"),
            )
            held = AcmeEvent(entry.info.domains, reason=decision.reason, retry_at=decision.retry_at)
            self._emit(EventKind.HELD, held)
        if self._wakeup is not None:
            self._wakeup.set()

    def _release(self, entry: _Entry) -> None:
        if entry.held_until:
            entry.held_until = 0.0
            self._emit(EventKind.RELEASED, AcmeEvent(entry.info.domains))

    def _failed(self, entry: _Entry, message: str, retry_at: float, reason: str) -> None:
        entry.info.status = "renewing" if entry.leaf is not None else "failed"
        entry.info.last_error = message
        entry.info.retry_at = datetime.datetime.fromtimestamp(retry_at, datetime.UTC)
        entry.due, entry.pending_reason = retry_at, reason
        still = " (the current certificate keeps serving)" if entry.leaf is not None else ""
        log.error(
            "ACME: could not obtain a certificate for %s%s: %s; next attempt at %s",
            ", ".join(entry.info.domains),
            still,
            message,
            entry.info.retry_at.isoformat(timespec="seconds"),
        )
        if self._wakeup is not None:
            self._wakeup.set()
