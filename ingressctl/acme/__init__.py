"""ingressctl.acme: ACME certificates (the only area that imports `acme`/`josepy`).

Public names, imported lazily so that `ingressctl.acme.storage` (used by the CLI's readers) does not pull
in the ACME protocol stack:
- `CertificateManager` (manager.py): what `serve` runs; `ManagedCertificate`, `AcmeEvent`, `EventKind`
  (events.py): what it reports.
- `Storage`, `AcmeJsonStorage`, `Resolver`, `AccountRecord`, `CertRecord` (storage.py).
- `RateLimitLedger` (ledger.py), `AcmeError` (errors.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # real types for mypy; at run time the names load on first use
    from ingressctl.acme.errors import AcmeError
    from ingressctl.acme.events import AcmeEvent, EventKind, ManagedCertificate, OnCertificate, OnEvent
    from ingressctl.acme.ledger import RateLimitLedger
    from ingressctl.acme.manager import CertificateManager
    from ingressctl.acme.storage import AccountRecord, AcmeJsonStorage, CertRecord, Resolver, Storage

_EXPORTS = {
    "CertificateManager": "manager",
    "ManagedCertificate": "events",
    "OnCertificate": "events",
    "OnEvent": "events",
    "AcmeEvent": "events",
    "EventKind": "events",
    "Storage": "storage",
    "AcmeJsonStorage": "storage",
    "Resolver": "storage",
    "AccountRecord": "storage",
    "CertRecord": "storage",
    "RateLimitLedger": "ledger",
    "AcmeError": "errors",
}

__all__ = [
    "AccountRecord",
    "AcmeError",
    "AcmeEvent",
    "AcmeJsonStorage",
    "CertRecord",
    "CertificateManager",
    "EventKind",
    "ManagedCertificate",
    "OnCertificate",
    "OnEvent",
    "RateLimitLedger",
    "Resolver",
    "Storage",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ingressctl.acme' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ingressctl.acme.{module}"), name)
