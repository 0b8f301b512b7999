"""What the certificate manager tells its owner: certificates to serve, and events about orders.

The server wires these to the certificate store, the metrics and the API (`on_certificate`,
`on_event`) instead of subclassing the manager: the manager's internals stay its own.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

# (main, sans, fullchain PEM, key PEM): a certificate to serve now.
OnCertificate = Callable[[str, tuple[str, ...], bytes, bytes], None]


class EventKind(Enum):
    ORDER_VALID = "valid"  # an order produced a certificate
    ORDER_REFUSED = "invalid"  # the CA answered with a problem document: it refused
    ORDER_FAILED = "error"  # no answer from the CA, or our side failed (storage, timeout, a bug)
    HELD = "held"  # the rate-limit guard held an order back (`retry_at` says until when)
    RELEASED = "released"  # a name set held back before may be ordered again


@dataclass(frozen=True, slots=True)
class AcmeEvent:
    names: tuple[str, ...]  # the certificate's names, main first
    code: str = ""  # ORDER_REFUSED / ORDER_FAILED: the ACME problem code, or the error's type
    reason: str = ""  # HELD: why, in words
    retry_at: float = 0.0  # HELD: epoch seconds of the next attempt


# Called on the manager's event loop.
OnEvent = Callable[[EventKind, AcmeEvent], None]


@dataclass(slots=True)
class ManagedCertificate:
    """What the dashboard shows for one certificate the manager owns (or is trying to obtain)."""

    main: str
    sans: tuple[str, ...] = ()
    status: str = "pending"  # pending | valid | renewing | failed | held
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    renew_at: datetime.datetime | None = None
    issuer: str = ""
    last_error: str = ""
    retry_at: datetime.datetime | None = None
    reason: str = ""  # why it was requested: host rule, on demand, domains, renewal, CA change

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.main, *[s for s in self.sans if s != self.main])
