"""The typed parts of one reload: what the compile produced, and who is told, in which order.

A reload is one pipeline (ingressctl.server.watcher): newest provider updates → compile and plan (in a
worker thread) → `CompiledConfig` → the ordered listeners → the API state → the listeners that
follow the applied configuration → the reload outcome (metrics) → the change summary (logged).
Everything a listener needs travels in the `CompiledConfig`; nothing is handed over on the side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ingressctl.model import Diagnostic, Snapshot, TLSCertificate
from ingressctl.providers.base import ProviderUpdate
from ingressctl.proxy.plan import Table, TablePlan

# The compiler: a snapshot to its routing table and findings (ingressctl.routing.compile).
CompileFn = Callable[[Snapshot], tuple[Table, list[Diagnostic]]]
# The proxy's plan for a table (balancers, per-entrypoint tables), built next to the compile.
PlanFn = Callable[[Table], TablePlan]
# Told whether a reload was applied, and how long it took (metrics).
OutcomeFn = Callable[[bool, float], None]


@dataclass(frozen=True, slots=True)
class CompiledConfig:
    """One compiled configuration: everything the parts of the server apply, from one compile."""

    table: Table
    diagnostics: tuple[Diagnostic, ...] = ()
    # None when the pipeline has no planner (a watcher without a proxy, in tests and benchmarks).
    plan: TablePlan | None = None
    # The provider updates it was built from, by provider name (Ingress status is written for these).
    updates: Mapping[str, ProviderUpdate] = field(default_factory=dict)

    @property
    def certificates(self) -> Sequence[TLSCertificate]:
        return self.table.certificates


@dataclass(frozen=True, slots=True)
class Listener:
    """One step of the pipeline, called with each configuration in the order the list gives.

    essential: the configuration is applied only when this step succeeds; a failure keeps the
    previous configuration in the API state and counts as a failed reload. A listener that follows
    an applied configuration (Ingress status) is not essential: its failure is logged.
    """

    name: str
    call: Callable[[CompiledConfig], None]
    essential: bool = True
