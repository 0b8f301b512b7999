"""The findings of `compile()` computed in two processes, for `validate` on a large input.

`validate` reports findings and never uses the routing table. After `_Compiler.prepare` (every
Ingress read, conflicts settled), what remains is one route part per candidate: resolving its
backends, protocol, policies and middlewares. Those are about two thirds of compiling 10,000
Ingresses and independent of each other, so a forked process computes the parts of some Ingresses
while this one computes the others, and only the findings come back.

One compiler, one truth: the findings are the very list `compile()` returns, in the same order.
Each route part's findings are recorded by candidate and put back in candidate order; the
compiler's once-only sets are kept per Ingress or per Service, so every Ingress is routed by one
process (with its canaries and its defaultBackend: those are routed here) and a Service's own
findings, when both processes report them, are the same finding twice, which `check()` reports once
(`tests/checks/test_split_compile.py` compares both on generated and on fixture inputs, and the
whole `validate` report with a run on one CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from ingressctl.gc_pause import collector_paused
from ingressctl.manifests.parallel import Worker
from ingressctl.model import Diagnostic, Snapshot
from ingressctl.routing.candidates import Candidate
from ingressctl.routing.compiler import _Compiler, compile
from ingressctl.routing.options import CompileOptions

# Below this many route candidates, forking costs about what it saves (a route part is ~40 µs).
MIN_CANDIDATES = 2_000
# The share of the candidates the forked process routes. This process also merges, and the
# linter runs beside both (checks/runner.py).
WORKER_SHARE = 0.5


@dataclass(slots=True)
class _Found:
    """What routing one candidate reported: in the compiler's findings, and in its Service
    access and Service host findings (added to the others at the end)."""

    index: int
    lists: tuple[list[Diagnostic], list[Diagnostic], list[Diagnostic]]


def compile_findings(snapshot: Snapshot, options: CompileOptions, *, parallel: bool) -> list[Diagnostic]:
    """The findings of `compile(snapshot, options)`, in its order: with `parallel`, the route parts
    of a large input are shared with a forked process. A Service's own finding may then come twice
    (both processes met the Service), which check() reports once, as it does every finding. Only
    for single-threaded programs (the CLI), as for load_paths."""
    has_gateway_api = snapshot.gateway_classes or snapshot.gateways or snapshot.http_routes
    if not parallel or (options.gateway and has_gateway_api):
        # The Gateway API compile reads the Ingress routes (overlaps): one process does it all.
        return compile(snapshot, options)[1]
    with collector_paused():
        compiler = _Compiler(snapshot, options)
        prepared = compiler.prepare()
        routed = prepared.routed
        lists = (compiler.diagnostics, compiler.service_access.diagnostics, compiler.service_host.diagnostics)
        before = [len(found) for found in lists]
        theirs = _theirs(routed, prepared.defaults) if len(routed) >= MIN_CANDIDATES else []
        if not theirs:
            for candidate in routed:
                compiler._route_part(candidate)
        else:
            worker = Worker(partial(_route_findings, compiler, routed, theirs))
            taken = set(theirs)
            try:
                found = [
                    _route(compiler, index, routed[index])
                    for index in range(len(routed))
                    if index not in taken
                ]
            except BaseException:
                worker.cancel()
                raise
            sent = worker.result()
            if sent is None:  # the worker failed: route its candidates here (same findings)
                sent = _route_findings(compiler, routed, theirs)
            # Back in candidate order, as one process would have found them.
            ordered = sorted((f for f in [*found, *sent] if f is not None), key=_by_index)
            for kept, length, part in zip(lists, before, range(3), strict=True):
                del kept[length:]
                for f in ordered:
                    kept.extend(f.lists[part])
        compiler.default_route(prepared.defaults)
        compiler.diagnostics.extend(compiler.service_access.diagnostics)
        compiler.diagnostics.extend(compiler.service_host.diagnostics)
        return compiler.diagnostics


def _by_index(found: _Found) -> int:
    return found.index


def _theirs(routed: list[Candidate], defaults: list[Candidate]) -> list[int]:
    """Indexes of the candidates the worker routes: whole Ingresses, about WORKER_SHARE of them."""
    # By namespace/name, not by object: the resolver reports once per Ingress name (an Ingress
    # defined twice in the input is routed by one process, as in one compile).
    pinned = {_name(candidate) for candidate in defaults}
    for candidate in routed:
        if candidate.canary_of is not None:
            pinned.add(_name(candidate))
            pinned.add(_name(candidate.canary_of))
    goal = len(routed) * WORKER_SHARE
    owner: dict[tuple[str, str], bool] = {}
    theirs: list[int] = []
    for index in range(len(routed) - 1, -1, -1):  # the last Ingresses: the worker starts at once
        key = _name(routed[index])
        if key not in owner:
            owner[key] = key not in pinned and len(theirs) < goal
        if owner[key]:
            theirs.append(index)
    theirs.reverse()
    return theirs


def _name(candidate: Candidate) -> tuple[str, str]:
    return candidate.ingress.meta.namespace, candidate.ingress.meta.name


def _route(compiler: _Compiler, index: int, candidate: Candidate) -> _Found | None:
    lists = (compiler.diagnostics, compiler.service_access.diagnostics, compiler.service_host.diagnostics)
    marks = [len(found) for found in lists]
    compiler._route_part(candidate)
    if all(len(found) == mark for found, mark in zip(lists, marks, strict=True)):
        return None
    return _Found(index, tuple(found[mark:] for found, mark in zip(lists, marks, strict=True)))  # type: ignore[arg-type]


def _route_findings(compiler: _Compiler, routed: list[Candidate], indexes: list[int]) -> list[_Found]:
    """The worker's task: route these candidates, hand back what they reported (nothing else)."""
    found = (_route(compiler, index, routed[index]) for index in indexes)
    return [f for f in found if f is not None]
