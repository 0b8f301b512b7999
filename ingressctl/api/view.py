"""The read-only view of the running server that the API and dashboard render.

The API never reaches into the server's internals: it reads this protocol, so the dashboard can
be tested against a small in-memory implementation and the server is free to change how it
keeps its state. Every method is cheap and synchronous (called from request handlers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ingressctl.model import Diagnostic, Route
from ingressctl.model.config import EntryPoint
from ingressctl.providers.base import ProviderStatus
from ingressctl.proxy.pool import EndpointFailing
from ingressctl.tls.index import CertificateSource
from ingressctl.tls.store import CertificateInfo

# CertificateInfo (what the dashboard shows about a certificate) is defined once, by the store.
__all__ = ["CertificateInfo", "CertificateSource", "EndpointFailing", "RouteTable", "RuntimeView"]


class RouteTable(Protocol):
    """The parts of ingressctl.routing.RoutingTable the API reads."""

    @property
    def routes(self) -> Sequence[Route]: ...

    @property
    def default_route(self) -> Route | None: ...


class RuntimeView(Protocol):
    def table(self) -> RouteTable | None:
        """The routing table being served, or None before the first configuration is applied."""
        ...

    def diagnostics(self) -> Sequence[Diagnostic]:
        """Findings of the last compile and of the providers' last reads."""
        ...

    def provider_statuses(self) -> Sequence[ProviderStatus]: ...

    def entrypoints(self) -> Sequence[EntryPoint]: ...

    def certificates(self) -> Sequence[CertificateInfo]: ...

    def last_reload(self) -> float | None:
        """time.time() when the current table was applied; None before the first."""
        ...

    def last_error(self) -> str | None:
        """The last failed reload, one line; None when the last reload succeeded."""
        ...

    def failing_endpoints(self) -> Mapping[tuple[str, int], EndpointFailing]:
        """Upstream (host, port) whose last attempt failed with no success since: the proxy's passive
        health, learnt from its own connect failures, resets and ejections (no probes are sent)."""
        ...

    def ready(self) -> bool:
        """True once the first configuration has been applied and the entrypoints listen."""
        ...

    def started_at(self) -> float: ...

    def config_summary(self) -> Mapping[str, Any]:
        """A few facts about the static configuration (JSON-safe, no secrets)."""
        ...
