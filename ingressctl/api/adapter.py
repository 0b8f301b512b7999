"""The server's RuntimeState seen through the API's RuntimeView."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ingressctl.api.view import CertificateInfo, RouteTable, RuntimeView
from ingressctl.model import Diagnostic
from ingressctl.model.config import EntryPoint
from ingressctl.providers.base import ProviderStatus
from ingressctl.proxy.pool import EndpointFailing
from ingressctl.server import RuntimeState


class RuntimeStateView:
    """Reads a RuntimeState; entrypoints show the addresses actually bound (port 0 → the OS's choice)."""

    def __init__(self, state: RuntimeState) -> None:
        self._state = state

    def table(self) -> RouteTable | None:
        return self._state.table()

    def diagnostics(self) -> Sequence[Diagnostic]:
        return self._state.diagnostics()

    def provider_statuses(self) -> Sequence[ProviderStatus]:
        return self._state.provider_statuses()

    def entrypoints(self) -> Sequence[EntryPoint]:
        bound = self._state.bound
        return [
            dataclasses.replace(ep, address=bound[ep.name]) if ep.name in bound else ep
            for ep in self._state.entrypoints()
        ]

    def certificates(self) -> Sequence[CertificateInfo]:
        return [c for c in self._state.certificates() if isinstance(c, CertificateInfo)]

    def last_reload(self) -> float | None:
        return self._state.last_reload()

    def failing_endpoints(self) -> Mapping[tuple[str, int], EndpointFailing]:
        return self._state.failing_endpoints()

    def last_error(self) -> str | None:
        return self._state.last_error()

    def ready(self) -> bool:
        return self._state.ready()

    def started_at(self) -> float:
        return self._state.started_at()

    def config_summary(self) -> Mapping[str, Any]:
        return self._state.config_summary()


def runtime_view(state: RuntimeState | RuntimeView) -> RuntimeView:
    """The view the API renders for `state` (a RuntimeState, or anything already a RuntimeView)."""
    if isinstance(state, RuntimeState):
        return RuntimeStateView(state)
    return state
