"""The runtime state the API and dashboard read: a small, read-only view of the running server.

The watch loop is the only writer; every reader gets plain references (tables and tuples are
immutable), so no locking is needed on the single event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ingressctl.model import Diagnostic
from ingressctl.model.config import EntryPoint, StaticConfig
from ingressctl.providers.base import ProviderStatus
from ingressctl.proxy.plan import Table
from ingressctl.proxy.pool import EndpointFailing
from ingressctl.server.ports import ClusterPort

if TYPE_CHECKING:
    from ingressctl.tls.store import CertificateInfo

FailingSource = Callable[[], Mapping[tuple[str, int], EndpointFailing]]


class CertificateView(Protocol):
    """What the API and the reload summary read of the certificate store
    (ingressctl.tls.store.CertificateStore)."""

    def infos(self) -> Sequence[CertificateInfo]: ...

    def describe(self, origin: str) -> str: ...  # what it serves from "Secret ns/name", in a few words


def _none_failing() -> Mapping[tuple[str, int], EndpointFailing]:
    return {}


class RuntimeState:
    """Current table, diagnostics, provider statuses, last reload, entrypoints, certificate store.

    Implements the API's RuntimeView protocol (ingressctl.api.view).
    """

    def __init__(self, static: StaticConfig, certificate_store: CertificateView | None = None) -> None:
        self.static = static
        self.certificate_store = certificate_store
        self._table: Table | None = None
        self._diagnostics: tuple[Diagnostic, ...] = ()
        self._provider_diagnostics: dict[str, tuple[Diagnostic, ...]] = {}
        self._statuses: dict[str, ProviderStatus] = {}
        self._last_reload: float | None = None
        self._last_error: str | None = None
        self._listening = False
        self._started = time.time()
        # Actual listen addresses ("host:port"), known once bound (port 0 → the OS's choice).
        self.bound: dict[str, str] = {}
        self.api_address: str | None = None
        self.reloads = 0
        # The ClusterControl (leadership, status) when serving a cluster; None otherwise.
        self.cluster: ClusterPort | None = None
        # The proxy's passive health (its upstream pool), set by the server.
        self.failing_source: FailingSource = _none_failing

    # ------------------------------------------------------------ writers (the server)

    def set_table(self, table: Table, diagnostics: Sequence[Diagnostic], when: float | None = None) -> None:
        self._table = table
        self._diagnostics = tuple(diagnostics)
        self._last_reload = when if when is not None else time.time()
        self._last_error = None
        self.reloads += 1

    def set_error(self, message: str) -> None:
        self._last_error = message

    def set_provider_diagnostics(self, provider: str, diagnostics: Sequence[Diagnostic]) -> None:
        self._provider_diagnostics[provider] = tuple(diagnostics)

    def set_provider_status(self, status: ProviderStatus) -> None:
        self._statuses[status.provider] = status

    def set_listening(self, listening: bool) -> None:
        self._listening = listening

    # ------------------------------------------------------------ RuntimeView

    def table(self) -> Table | None:
        return self._table

    def diagnostics(self) -> Sequence[Diagnostic]:
        out: list[Diagnostic] = []
        for diags in self._provider_diagnostics.values():
            out.extend(diags)
        out.extend(self._diagnostics)
        return out

    def provider_statuses(self) -> Sequence[ProviderStatus]:
        return tuple(self._statuses.values())

    def entrypoints(self) -> Sequence[EntryPoint]:
        return self.static.entrypoints

    def certificates(self) -> Sequence[CertificateInfo]:
        store = self.certificate_store
        return tuple(store.infos()) if store is not None else ()

    def certificate_status(self, origin: str) -> str:
        """What the certificate store serves from `origin` ("Secret ns/name"), in a few words ("" if
        unknown): the reload summary shows it next to a rotated certificate."""
        store = self.certificate_store
        return store.describe(origin) if store is not None else ""

    def last_reload(self) -> float | None:
        return self._last_reload

    def failing_endpoints(self) -> Mapping[tuple[str, int], EndpointFailing]:
        return self.failing_source()

    def last_error(self) -> str | None:
        return self._last_error

    def ready(self) -> bool:
        return self._listening and self._table is not None

    def started_at(self) -> float:
        return self._started

    def config_summary(self) -> Mapping[str, object]:  # a JSON document: values of many shapes
        s = self.static
        return {
            "source": s.source or "command line",
            "entrypoints": {e.name: self.bound.get(e.name, e.address) for e in s.entrypoints},
            "default_entrypoints": list(s.default_entrypoints),
            "manifests": list(s.manifests),
            "kubernetes": s.kubernetes is not None,
            "acme": s.acme is not None,
            "workers": s.workers,
            "ingress_class": s.ingress_class,
            "controller_name": s.controller_name,
            "allow_external_name_services": s.allow_external_name_services,
            "throttle_seconds": s.throttle_seconds,
            "leadership": self._leadership(),
        }

    def _leadership(self) -> Mapping[str, str | bool] | None:
        cluster = self.cluster
        if cluster is None:
            return None
        elector = cluster.elector
        return {
            "identity": cluster.identity,
            "leader": bool(cluster.is_leader),
            "election": bool(cluster.settings.leader_election),
            "current_leader": elector.leader if elector is not None else cluster.identity,
        }
