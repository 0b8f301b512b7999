"""Lease-based leader election, the decisions (pure). The API calls live in providers/kubernetes.py.

The rules follow client-go's leaderelection package:
- a Lease held by someone else is taken over only once it has not changed for `leaseDurationSeconds`
  *as observed by us* (our own monotonic clock, not the holder's renewTime: clocks of two nodes may
  disagree, and a lease must never look expired early because of skew);
- every write carries the resourceVersion we read, so of two replicas racing for an expired lease
  exactly one wins and the other gets 409 Conflict;
- releasing clears holderIdentity, so a successor need not wait out the duration.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    holder: str = ""
    duration_seconds: int = 15
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Mapping[str, Any]) -> LeaseRecord:
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

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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


def lease_body(namespace: str, name: str, record: LeaseRecord, resource_version: str = "") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
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
