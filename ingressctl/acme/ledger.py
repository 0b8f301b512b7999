"""A persistent rate-limit guard and order journal: never let a crash loop or a misconfiguration burn
the CA's limits.

What it records, as the CA counts (Let's Encrypt's published limits in brackets):
- every order per *name set* (the exact set of names of one certificate): at most `set_hourly_cap`
  per hour, and at most `set_weekly_cap` per week of those that may have produced a certificate
  [duplicate certificates: 5 per week for the same set of names]. An order the CA refused (failed
  validation, rejected name) produced none and counts only toward the hourly cap;
- every order per *registered domain* (see `registered_domain`): `hourly_cap` per hour and
  `weekly_cap` per week [certificates per registered domain: 50 per week];
- every failure per *hostname*: after n consecutive failures it waits `backoff_base * 2**(n-1)`
  seconds, up to `backoff_max` [failed validations: 5 per hostname per hour]. Only that name waits;
- the *journal*: an order is written down before it is placed (names, time) and its URL as soon as
  the CA gives it. An entry still there at the next start was left by a process that died (kill -9,
  OOM, crash loop): it counts as one failed attempt, and its order is resumed (RFC 8555 §7.4: the
  order and its authorizations are fetched again) instead of placing a new one.

The ledger lives where the certificates live: a file next to acme.json (`LockedFile`) or a Kubernetes
Secret (any `BlobStore`). Every check reads it afresh and every change is a read-modify-write of the
store, so the caps hold across restarts, processes and replicas. A ledger that cannot be read is never
overwritten: it is a ConfigError naming it (the limits it protects are not recoverable).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from ingressctl.acme.files import LockedFile
from ingressctl.acme.storage import BlobStore
from ingressctl.model import ConfigError

log = logging.getLogger("ingressctl.acme")

HOUR = 3600.0
WEEK = 7 * 24 * HOUR
SCHEMA = 2

# Defaults of the per-name-set caps (documented in the README against Let's Encrypt's limits).
SET_HOURLY_CAP = 3
SET_WEEKLY_CAP = 4  # Let's Encrypt allows 5 duplicate certificates per week: stay below it

# A heuristic, not the Public Suffix List (we ship no data file): two labels make the registered
# domain, three when the last two are one of these well-known two-level public suffixes.
TWO_LEVEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "net.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "co.za", "org.za",
        "com.br", "net.br", "org.br", "com.cn", "net.cn", "org.cn", "com.mx", "com.ar", "com.tr",
        "co.in", "net.in", "org.in", "co.kr", "or.kr", "com.sg", "com.hk", "com.tw", "co.il", "co.id",
    }
)  # fmt: skip


def registered_domain(name: str) -> str:
    labels = name.lower().rstrip(".").lstrip("*.").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def host_name(name: str) -> str:
    return name.lower().rstrip(".")


def name_set(names: Sequence[str]) -> str:
    """The key of a certificate's exact set of names (order and case do not matter, as for the CA)."""
    return ",".join(sorted({host_name(n) for n in names}))


class Outcome(Enum):
    PENDING = "pending"  # placed (or about to be); no outcome yet
    VALID = "valid"  # a certificate was issued
    REFUSED = "refused"  # the CA refused: no certificate can have been issued
    UNKNOWN = "unknown"  # timed out, network, or the process died: a certificate may exist


# Problem codes after which no certificate can exist: the CA refused the order. Anything else (no
# answer, a timeout, our own failure) may have left a certificate behind at the CA.
_UNSURE_CODES = frozenset({"", "timeout", "network", "tls", "client", "badNonce", "serverInternal"})


def outcome_of(code: str) -> Outcome:
    """The outcome of an order that failed with the ACME problem `code` (AcmeError.code)."""
    return Outcome.UNKNOWN if code in _UNSURE_CODES else Outcome.REFUSED


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    retry_at: float = 0.0  # epoch seconds


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """A journal entry: an order that was placed (or about to be) and has no outcome yet."""

    names: tuple[str, ...]
    started: float
    url: str  # "" when the process died before the CA answered newOrder
    owner: str
    key_pem: bytes = field(default=b"", repr=False)  # the certificate's key the order was begun with


Doc = dict[str, Any]


def _empty() -> Doc:
    return {"schema": SCHEMA, "domains": {}, "hosts": {}, "sets": {}, "journal": {}}


class RateLimitLedger:
    def __init__(
        self,
        store: str | Path | BlobStore | None,
        *,
        hourly_cap: int = 20,
        weekly_cap: int = 50,
        set_hourly_cap: int = SET_HOURLY_CAP,
        set_weekly_cap: int = SET_WEEKLY_CAP,
        backoff_base: float = 60.0,
        backoff_max: float = 24 * HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(store, str | Path):
            store = LockedFile(Path(store)) if str(store) else None
        self.store: BlobStore | None = store
        self.hourly_cap = hourly_cap
        self.weekly_cap = weekly_cap
        self.set_hourly_cap = set_hourly_cap
        self.set_weekly_cap = set_weekly_cap
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.clock = clock
        self._lock = threading.Lock()
        self._memory: Doc = _empty()  # the state when there is no store (tests, `certs` without storage)

    @property
    def path(self) -> Path | None:
        return self.store.path if isinstance(self.store, LockedFile) else None

    def describe(self) -> str:
        return self.store.describe() if self.store is not None else "(in memory)"

    def verify(self) -> None:
        """Raise ConfigError now if the stored ledger cannot be read (blocking: a Secret is a request)."""
        self._read()

    # -- the document ---------------------------------------------------------------------------------
    def _parse(self, data: bytes | None) -> Doc:
        if not data or not data.strip():
            return _empty()
        where = self.describe()
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise ConfigError(
                f"rate-limit ledger {where}: not valid JSON ({exc}); it records the orders placed at the "
                "CA and is never overwritten: restore it, or remove it deliberately to forget them"
            ) from None
        problem = _shape_problem(doc)
        if problem:
            raise ConfigError(
                f"rate-limit ledger {where}: {problem}; ingressctl does not understand it and will not "
                "overwrite it: restore it, or remove it deliberately to forget the orders it records"
            )
        out = _empty()
        # Failures kept per registered domain by schema 1 blocked every sibling: only the orders are kept.
        out["domains"] = {
            str(k): {"orders": [float(t) for t in v.get("orders", [])]}
            for k, v in doc["domains"].items()
            if isinstance(v, dict)
        }
        for key in ("hosts", "sets", "journal"):
            out[key] = {str(k): v for k, v in doc.get(key, {}).items() if isinstance(v, dict)}
        return out

    def _read(self) -> Doc:
        if self.store is None:
            return self._memory
        return self._parse(self.store.load_bytes())

    def _change(self, fn: Callable[[Doc], None]) -> None:
        """Apply `fn` to the current document and store it (re-read first: other writers' entries stay)."""
        with self._lock:
            if self.store is None:
                fn(self._memory)
                return

            def change(current: bytes | None) -> bytes:
                doc = self._parse(current)
                fn(doc)
                doc["schema"] = SCHEMA
                return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()

            self.store.update(change)

    # -- questions ------------------------------------------------------------------------------------
    def check(self, names: Sequence[str]) -> Decision:
        """May we place a new order for these names now?"""
        now = self.clock()
        doc = self._read()
        for name in sorted({host_name(n) for n in names}):
            host = doc["hosts"].get(name, {})
            failures = int(host.get("failures", 0))
            if failures:
                wait = min(self.backoff_base * 2 ** (failures - 1), self.backoff_max)
                until = float(host.get("last_failure", 0.0)) + wait
                if now < until:
                    reason = f"{name}: {failures} failed attempt(s) in a row; backing off for {wait:.0f}s"
                    return Decision(False, reason, until)
        key = name_set(names)
        orders = _set_orders(doc, key, now)
        last_hour = sorted(float(o["at"]) for o in orders if now - float(o["at"]) < HOUR)
        if len(last_hour) >= self.set_hourly_cap:
            return Decision(
                False, f"{key}: {len(last_hour)} orders for this set of names in the last hour (cap "
                f"{self.set_hourly_cap})", last_hour[-self.set_hourly_cap] + HOUR,
            )  # fmt: skip
        may_have_issued = sorted(float(o["at"]) for o in orders if o.get("outcome") != Outcome.REFUSED.value)
        if len(may_have_issued) >= self.set_weekly_cap:
            return Decision(
                False, f"{key}: {len(may_have_issued)} orders for this set of names in the last week that "
                f"may have produced a certificate (cap {self.set_weekly_cap})",
                may_have_issued[-self.set_weekly_cap] + WEEK,
            )  # fmt: skip
        for domain in sorted({registered_domain(n) for n in names}):
            stamps = [
                float(t) for t in doc["domains"].get(domain, {}).get("orders", []) if now - float(t) < WEEK
            ]
            hour = sorted(t for t in stamps if now - t < HOUR)
            if len(hour) >= self.hourly_cap:
                return Decision(
                    False, f"{domain}: {len(hour)} orders in the last hour (cap {self.hourly_cap})",
                    hour[-self.hourly_cap] + HOUR,
                )  # fmt: skip
            if len(stamps) >= self.weekly_cap:
                return Decision(
                    False, f"{domain}: {len(stamps)} orders in the last week (cap {self.weekly_cap})",
                    sorted(stamps)[-self.weekly_cap] + WEEK,
                )  # fmt: skip
        return Decision(True)

    def pending(self, names: Sequence[str]) -> PendingOrder | None:
        entry = self._read()["journal"].get(name_set(names))
        return _pending(entry) if entry is not None else None

    def orders(self, names: Sequence[str]) -> int:
        """How many orders for exactly these names the ledger holds (placed within the last week)."""
        return len(_set_orders(self._read(), name_set(names), self.clock()))

    # -- the journal ----------------------------------------------------------------------------------
    def begin_order(self, names: Sequence[str], owner: str, key_pem: bytes = b"") -> None:
        """Before newOrder: count the order and write it down, so that dying now still counts.

        `key_pem`, the certificate's private key, is kept with it (the ledger is as private as acme.json):
        an order the CA finalized just before a kill yields a certificate only together with that key.
        """
        now = self.clock()
        key = name_set(names)

        def fn(doc: Doc) -> None:
            for domain in {registered_domain(n) for n in names}:
                entry = doc["domains"].setdefault(domain, {"orders": []})
                entry["orders"] = [t for t in entry["orders"] if now - float(t) < WEEK] + [now]
            # An entry nobody resumed within a week (its names are no longer wanted) is forgotten:
            # the CA has let the order expire by then.
            doc["journal"] = {k: v for k, v in doc["journal"].items() if now - float(v.get("at", 0)) < WEEK}
            orders = _set_orders(doc, key, now)
            orders.append({"at": now, "outcome": Outcome.PENDING.value})
            doc["sets"][key] = {"orders": orders}
            doc["journal"][key] = {
                "names": [host_name(n) for n in names],
                "at": now,
                "url": "",
                "owner": owner,
                "key": base64.b64encode(key_pem).decode(),
            }

        self._change(fn)

    def order_placed(self, names: Sequence[str], url: str) -> None:
        """The CA answered newOrder: keep its URL, so a restart resumes this order."""
        key = name_set(names)

        def fn(doc: Doc) -> None:
            entry = doc["journal"].get(key)
            if entry is not None:
                entry["url"] = url

        self._change(fn)

    def finish_order(self, names: Sequence[str], outcome: Outcome) -> None:
        """The order ended: drop it from the journal and record the outcome (success resets back-off)."""
        now = self.clock()
        key = name_set(names)

        def fn(doc: Doc) -> None:
            doc["journal"].pop(key, None)
            orders = _set_orders(doc, key, now)
            for order in reversed(orders):
                if order.get("outcome") in (Outcome.PENDING.value, Outcome.UNKNOWN.value):
                    order["outcome"] = outcome.value
                    break
            if orders:
                doc["sets"][key] = {"orders": orders}
            _record_result(doc, names, outcome is Outcome.VALID, now)

        self._change(fn)

    def claim_left_over(self, names: Sequence[str], owner: str) -> PendingOrder | None:
        """An order for these names that another (dead) process left in the journal, now ours.

        It counts once as a failed attempt (back-off); its outcome becomes UNKNOWN (a certificate may
        exist). An entry without an order URL has nothing to resume and is dropped. None: nothing left.
        """
        now = self.clock()
        key = name_set(names)
        found: list[PendingOrder] = []

        def fn(doc: Doc) -> None:
            found.clear()
            entry = doc["journal"].get(key)
            if entry is None or entry.get("owner") == owner:
                return
            found.append(_pending(entry))
            if not entry.get("counted"):  # a crash loop resuming one order counts it once
                _record_result(doc, names, False, now)
                orders = _set_orders(doc, key, now)
                for order in reversed(orders):
                    if order.get("outcome") == Outcome.PENDING.value:
                        order["outcome"] = Outcome.UNKNOWN.value
                        break
                doc["sets"][key] = {"orders": orders}
            if entry.get("url"):
                entry["owner"], entry["counted"] = owner, True
            else:
                del doc["journal"][key]

        self._change(fn)
        return found[0] if found else None

    # -- results without a journal entry (kept for `certs request` and older callers) --------------------
    def record_order(self, names: Sequence[str]) -> None:
        """Count an order (no journal entry: the caller waits for it in the foreground)."""
        self.begin_order(names, owner="")
        key = name_set(names)
        self._change(lambda doc: doc["journal"].pop(key, None) and None)

    def record_result(self, names: Sequence[str], ok: bool) -> None:
        now = self.clock()
        self._change(lambda doc: _record_result(doc, names, ok, now))


def _record_result(doc: Doc, names: Sequence[str], ok: bool, now: float) -> None:
    # A name nobody asked for in a week (its Ingress is gone) is forgotten.
    doc["hosts"] = {k: v for k, v in doc["hosts"].items() if now - float(v.get("last_failure", 0)) < WEEK}
    for name in {host_name(n) for n in names}:
        if ok:
            doc["hosts"].pop(name, None)
        else:
            host = doc["hosts"].setdefault(name, {"failures": 0, "last_failure": 0.0})
            host["failures"] = int(host.get("failures", 0)) + 1
            host["last_failure"] = now


def _set_orders(doc: Doc, key: str, now: float) -> list[dict[str, Any]]:
    entry = doc["sets"].get(key, {})
    return [
        dict(o) for o in entry.get("orders", []) if isinstance(o, dict) and now - float(o.get("at", 0)) < WEEK
    ]


def _pending(entry: dict[str, Any]) -> PendingOrder:
    return PendingOrder(
        names=tuple(str(n) for n in entry.get("names", [])),
        started=float(entry.get("at", 0.0)),
        url=str(entry.get("url") or ""),
        owner=str(entry.get("owner") or ""),
        key_pem=_b64(entry.get("key")),
    )


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        return b""


def _shape_problem(doc: Any) -> str:
    """What makes `doc` not a ledger this version can rewrite without losing anything ("" if none)."""
    if not isinstance(doc, dict):
        return "expected a JSON object"
    schema = doc.get("schema", 1)
    if not isinstance(schema, int) or schema > SCHEMA:
        return f"schema {schema!r} is newer than this ingressctl understands ({SCHEMA})"
    unknown = sorted(set(doc) - {"schema", "domains", "hosts", "sets", "journal"})
    if unknown:
        return f"unknown key {unknown[0]!r}"
    if not isinstance(doc.get("domains"), dict):
        return "'domains' is missing or not an object"
    for key in ("hosts", "sets", "journal"):
        if not isinstance(doc.get(key, {}), dict):
            return f"{key!r} is not an object"
    try:
        for value in doc["domains"].values():
            [float(t) for t in value.get("orders", [])]
        for value in doc.get("sets", {}).values():
            [float(o["at"]) for o in value.get("orders", [])]
        for value in doc.get("hosts", {}).values():
            int(value.get("failures", 0)), float(value.get("last_failure", 0))
    except (AttributeError, KeyError, TypeError, ValueError):
        return "an entry has the wrong type"
    return ""
