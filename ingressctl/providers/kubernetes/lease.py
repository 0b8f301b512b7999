"""Lease-based leader election (coordination.k8s.io/v1): the decisions (pure) and `LeaderElector`.

The rules follow client-go's leaderelection package:
- a Lease held by someone else is taken over only once it has not changed for `leaseDurationSeconds`
  *as observed by us* (our own monotonic clock, not the holder's renewTime: clocks of two nodes may
  disagree, and a lease must never look expired early because of skew);
- every write carries the resourceVersion we read, so of two replicas racing for an expired lease
  exactly one wins and the other gets 409 Conflict;
- releasing clears holderIdentity, so a successor need not wait out the duration.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ingressctl.model import ConfigError
from ingressctl.providers.kubernetes.client import RECOVERABLE, RELEASE_ERRORS, ApiError, Connection, KubeApi
from ingressctl.providers.kubernetes.errors import describe_transport_error
from ingressctl.providers.kubernetes.problems import ProblemLog
from ingressctl.providers.kubernetes.resources import Lease, LeaseSpec, ObjectMeta
from ingressctl.providers.kubernetes.watch import Timing

log = logging.getLogger(__package__)  # one logger for the whole provider


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    holder: str = ""
    duration_seconds: int = 15
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Mapping[str, Any]) -> LeaseRecord:  # a Lease, read defensively
        spec = lease.get("spec") or {}
        if not isinstance(spec, Mapping):
            spec = {}

        def number(key: str) -> int:
            try:
                return int(spec.get(key) or 0)
            except (TypeError, ValueError):  # someone wrote garbage: read it as absent
                return 0

        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration_seconds=number("leaseDurationSeconds"),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=number("leaseTransitions"),
        )

    def spec(self) -> LeaseSpec:
        out: LeaseSpec = {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.duration_seconds,
            "leaseTransitions": self.transitions,
        }
        if self.acquire_time:
            out["acquireTime"] = self.acquire_time
        if self.renew_time:
            out["renewTime"] = self.renew_time
        return out


def micro_time(epoch: float) -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(namespace: str, name: str, record: LeaseRecord, resource_version: str = "") -> Lease:
    metadata: ObjectMeta = {"name": name, "namespace": namespace}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": record.spec(),
    }


class LeaseObserver:
    """Remembers when the lease record last changed, on our clock."""

    def __init__(self) -> None:
        self._seen: LeaseRecord | None = None
        self._seen_at = 0.0

    def observe(self, record: LeaseRecord, now: float) -> None:
        if record != self._seen:
            self._seen = record
            self._seen_at = now

    def expired(self, record: LeaseRecord, now: float) -> bool:
        self.observe(record, now)
        if not record.holder:
            return True
        return now >= self._seen_at + max(record.duration_seconds, 1)


def claim(record: LeaseRecord | None, identity: str, duration: int, wall_now: float) -> LeaseRecord:
    """The record to write when we take (or keep) the lease."""
    stamp = micro_time(wall_now)
    if record is None:
        return LeaseRecord(identity, duration, stamp, stamp, 0)
    if record.holder == identity:
        return replace(record, duration_seconds=duration, renew_time=stamp)
    return LeaseRecord(identity, duration, stamp, stamp, record.transitions + 1)


def released(record: LeaseRecord, wall_now: float) -> LeaseRecord:
    # client-go writes an empty holder and a 1 s duration so followers take over at once.
    return replace(record, holder="", duration_seconds=1, renew_time=micro_time(wall_now))


# ====================================================================== the elector


def unique_holder_identity() -> str:
    """Hostname plus a random suffix, for an elector given no identity: two electors never share one.
    (`serve` passes its stable replica name instead: ingressctl.server.cluster.replica_identity.)"""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """Lease-based leader election (coordination.k8s.io/v1), as client-go does it.

    `is_leader` is true while we hold the lease. `on_started_leading` / `on_stopped_leading` run on the
    event loop; `on_new_leader(identity)` whenever the observed holder changes. `run()` keeps trying
    until cancelled, then releases the lease so a successor takes over at once.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        namespace: str,
        name: str = "ingressctl-leader",
        identity: str | None = None,
        lease_duration: int = 15,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        timing: Timing | None = None,
    ) -> None:
        if not renew_deadline < lease_duration:
            raise ConfigError("leader election: the renew deadline must be shorter than the lease duration")
        t = timing or Timing()
        self.api = KubeApi(
            connection,
            connect_timeout=t.connect_timeout,
            request_timeout=min(t.request_timeout, renew_deadline),
        )
        self.namespace = namespace
        self.name = name
        self.identity = identity or unique_holder_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.is_leader = False
        self.leader = ""
        self._observer = LeaseObserver()
        self._last_renew = 0.0
        self._lock = threading.Lock()  # one API conversation at a time (renew vs. release)
        # Retried every retry_period: a forbidden Lease is logged once, then reminded (`problems`).
        self._problems = ProblemLog(log, reminder=t.problem_reminder)

    def _try(self) -> bool | None:
        """True: we hold the lease now. False: someone else does. None: could not tell (API trouble)."""
        lease_name = f"{self.namespace}/{self.name}"
        with self._lock:
            try:
                outcome = self._attempt()
            except ApiError as exc:
                if exc.status != 409:
                    message = f"leader election (Lease {lease_name}): {exc}"
                    self._problems.failed("lease", message, level=exc.log_level)
                    return None
                outcome = False  # another replica wrote first
            except RECOVERABLE as exc:
                message = describe_transport_error("update", "the leader Lease", self.api.endpoint, exc)
                self._problems.failed("lease", f"leader election: {message}")
                return None
        self._problems.recovered("lease", f"access to the leader Lease {lease_name}")
        return outcome

    def _attempt(self) -> bool:
        """One get-then-claim round; API and transport errors propagate."""
        try:
            lease = self.api.get_lease(self.namespace, self.name)
        except ApiError as exc:
            if exc.status != 404:
                raise
            record = claim(None, self.identity, self.lease_duration, time.time())
            self.api.create_lease(self.namespace, lease_body(self.namespace, self.name, record))
            self._seen(self.identity)
            return True
        record = LeaseRecord.from_lease(lease)
        now = time.monotonic()
        if record.holder and record.holder != self.identity and not self._observer.expired(record, now):
            self._seen(record.holder)
            return False
        version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
        new = claim(record, self.identity, self.lease_duration, time.time())
        self.api.replace_lease(self.namespace, self.name, lease_body(self.namespace, self.name, new, version))
        self._seen(self.identity)
        return True

    def _seen(self, holder: str) -> None:
        if holder != self.leader:
            self.leader = holder
            if holder:
                log.info("kubernetes: the leader is now %s", holder)
            if self.on_new_leader is not None:
                self.on_new_leader(holder)

    def _set_leader(self, leading: bool) -> None:
        if leading == self.is_leader:
            return
        self.is_leader = leading
        if leading:
            log.info(
                "kubernetes: %s became the leader (Lease %s/%s)", self.identity, self.namespace, self.name
            )
            if self.on_started_leading is not None:
                self.on_started_leading()
        else:
            log.warning("kubernetes: %s is no longer the leader", self.identity)
            if self.on_stopped_leading is not None:
                self.on_stopped_leading()

    async def run(self) -> None:
        try:
            while True:
                outcome = await asyncio.to_thread(self._try)
                now = time.monotonic()
                if outcome is True:
                    self._last_renew = now
                    self._set_leader(True)
                elif outcome is False:
                    self._set_leader(False)
                elif self.is_leader and now - self._last_renew > self.renew_deadline:
                    self._set_leader(False)  # could not renew in time: stop acting before the lease runs out
                await asyncio.sleep(self.retry_period * (1 + 0.2 * random.random()))
        finally:
            if self.is_leader:
                await asyncio.shield(self.release())

    async def release(self) -> None:
        """Give the lease up (holder cleared) so another replica can take over immediately."""
        if not self.is_leader:
            return
        await asyncio.to_thread(self._release)
        self._set_leader(False)

    def _release(self) -> None:
        with self._lock:
            try:
                lease = self.api.get_lease(self.namespace, self.name)
                record = LeaseRecord.from_lease(lease)
                if record.holder != self.identity:
                    return
                version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
                body = lease_body(self.namespace, self.name, released(record, time.time()), version)
                self.api.replace_lease(self.namespace, self.name, body)
                log.info("kubernetes: %s released the leader Lease", self.identity)
            except RELEASE_ERRORS as exc:
                log.warning("kubernetes: could not release the leader Lease (it expires by itself): %s", exc)
