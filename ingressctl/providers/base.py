"""The contract between providers and the server's watch loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ingressctl.model import Diagnostic, Snapshot


@dataclass(frozen=True, slots=True)
class ProviderUpdate:
    """A whole configuration from one provider. Later updates replace earlier ones entirely."""

    provider: str  # "manifests" or "kubernetes"
    snapshot: Snapshot
    # Problems found while reading (YAML errors, unreadable files, API errors).
    diagnostics: tuple[Diagnostic, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    provider: str
    healthy: bool
    message: str = ""  # last error, one line, or "" when healthy
    last_sync: float | None = None  # time.time() of the last successful read
    # The provider logs its problems and their end itself (once each): the server need not.
    logged: bool = False


Publish = Callable[[ProviderUpdate], None]
ReportStatus = Callable[[ProviderStatus], None]


class Provider(Protocol):
    name: str

    async def run(self, publish: Publish, report: ReportStatus) -> None:
        """Publish a first update as soon as possible, then one per change, until cancelled."""
        ...
