"""GatewayMemo: what compile_gateway() leaves for the next compile, so changing one HTTPRoute among
thousands costs about one HTTPRoute (the Gateway API half of routing.memo.CompileCache).

Per HTTPRoute (by identity: providers keep unchanged objects as the same objects) it keeps the
Routes, findings and unresolved references its rules gave, and reuses them while everything they
were computed from is the very same: the HTTPRoute, the context every attachment depends on
(GatewayClasses, Gateways, ReferenceGrants, Namespaces, Secrets, the compile options) and the
resolved backend of each Service it names (the resolver returns the same object while the Service
and its endpoints are the same objects). Entries a compile does not use are dropped by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingressctl.model import Diagnostic, Route, Snapshot
from ingressctl.model.gateway import HTTPRoute
from ingressctl.routing.options import CompileOptions


@dataclass(frozen=True, slots=True)
class RouteResult:
    """What one HTTPRoute compiled to, with what it was computed from."""

    route: HTTPRoute  # kept alive: its id() is the key
    context: object
    backends: tuple[object, ...]
    routes: tuple[Route, ...]
    diagnostics: tuple[Diagnostic, ...]
    problems: tuple[object, ...]


class GatewayMemo:
    __slots__ = ("_inputs", "_options", "context", "next", "results")

    def __init__(self) -> None:
        self._options: CompileOptions | None = None
        self._inputs: tuple[tuple[object, ...], ...] = ()
        self.context = object()  # renewed whenever an input every HTTPRoute depends on changes
        self.results: dict[int, RouteResult] = {}
        self.next: dict[int, RouteResult] = {}

    def begin(self, snapshot: Snapshot, options: CompileOptions) -> None:
        inputs = (
            snapshot.gateway_classes,
            snapshot.gateways,
            snapshot.reference_grants,
            snapshot.namespaces,
            snapshot.secrets,
        )
        if self._options != options or not _same_all(self._inputs, inputs):
            self._options = options
            self._inputs = inputs
            self.context = object()
        self.next = {}

    def get(self, route: HTTPRoute, backends: tuple[object, ...]) -> RouteResult | None:
        found = self.results.get(id(route))
        if (
            found is None
            or found.route is not route
            or found.context is not self.context
            or not _same(found.backends, backends)
        ):
            return None
        self.next[id(route)] = found
        return found

    def keep(self, result: RouteResult) -> None:
        self.next[id(result.route)] = result

    def commit(self) -> None:
        self.results, self.next = self.next, {}


def _same(a: Sequence[object], b: Sequence[object]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _same_all(a: Sequence[Sequence[object]], b: Sequence[Sequence[object]]) -> bool:
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
