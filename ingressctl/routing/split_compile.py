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
from ingressctl.manifests.parallel import Claims, Worker
from ingressctl.model import Diagnostic, Snapshot
from ingressctl.routing.candidates import Candidate
from ingressctl.routing.compiler import _Compiler, compile
from ingressctl.routing.options import CompileOptions

# Below this many route candidates, forking costs about what it saves (a route part is ~40 µs).
MIN_CANDIDATES = 2_000
# Candidates per piece of work the two processes take in turn (parallel.Claims): ~2.5 ms each, so
# that neither waits long for the other at the end, whatever else runs beside them (the linter).
PIECE = 64


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
        mine, pieces = _pieces(routed, prepared.defaults) if len(routed) >= MIN_CANDIDATES else ([], [])
        if not pieces:
            for candidate in routed:
                compiler.route_findings(candidate)
        else:
            found = _share(compiler, routed, mine, pieces)
            # Back in candidate order, as one process would have found them.
            found.sort(key=_by_index)
            for kept, length, part in zip(lists, before, range(3), strict=True):
                del kept[length:]
                for f in found:
                    kept.extend(f.lists[part])
        compiler.default_route(prepared.defaults)
        compiler.diagnostics.extend(compiler.service_access.diagnostics)
        compiler.diagnostics.extend(compiler.service_host.diagnostics)
        return compiler.diagnostics


def _share(
    compiler: _Compiler, routed: list[Candidate], mine: list[int], pieces: list[list[int]]
) -> list[_Found]:
    """Route `mine` here and the `pieces` in both processes, each taking the next piece no process
    has taken yet: what every candidate reported. A failed worker costs only time: the pieces it
    took are routed here once it has ended."""
    claims = Claims(len(pieces))
    try:
        worker = Worker(partial(_route_claimed, compiler, routed, pieces, claims))
        try:
            found = _route_indexes(compiler, routed, mine)
            taken: set[int] = set()
            while (number := claims.take()) is not None:
                taken.add(number)
                found.extend(_route_indexes(compiler, routed, pieces[number]))
        except BaseException:
            worker.cancel()
            raise
    finally:
        claims.close()
    sent = worker.result()
    if sent is None:  # the worker failed: route the pieces it took here (same findings)
        for number in range(len(pieces)):
            if number not in taken:
                found.extend(_route_indexes(compiler, routed, pieces[number]))
    else:
        found.extend(sent)
    return found


def _by_index(found: _Found) -> int:
    return found.index


def _pieces(routed: list[Candidate], defaults: list[Candidate]) -> tuple[list[int], list[list[int]]]:
    """(indexes of the candidates this process routes, pieces of indexes either process routes):
    an Ingress is routed by one process, so a piece holds whole Ingresses. The Ingresses of a
    defaultBackend or of a canary are routed here (the default route is, after the others)."""
    # By namespace/name, not by object: the resolver reports once per Ingress name (an Ingress
    # defined twice in the input is routed by one process, as in one compile).
    pinned = {_name(candidate) for candidate in defaults}
    for candidate in routed:
        if candidate.canary_of is not None:
            pinned.add(_name(candidate))
            pinned.add(_name(candidate.canary_of))
    by_name: dict[tuple[str, str], list[int]] = {}
    mine: list[int] = []
    for index, candidate in enumerate(routed):
        key = _name(candidate)
        if key in pinned:
            mine.append(index)
        else:
            by_name.setdefault(key, []).append(index)
    size = max(PIECE, -(-len(routed) // Claims.LIMIT))
    pieces: list[list[int]] = []
    for indexes in by_name.values():
        if not pieces or len(pieces[-1]) >= size:
            pieces.append([])
        pieces[-1].extend(indexes)
    return mine, pieces


def _name(candidate: Candidate) -> tuple[str, str]:
    return candidate.ingress.meta.namespace, candidate.ingress.meta.name


def _route(compiler: _Compiler, index: int, candidate: Candidate) -> _Found | None:
    lists = (compiler.diagnostics, compiler.service_access.diagnostics, compiler.service_host.diagnostics)
    marks = [len(found) for found in lists]
    compiler.route_findings(candidate)
    if all(len(found) == mark for found, mark in zip(lists, marks, strict=True)):
        return None
    return _Found(index, tuple(found[mark:] for found, mark in zip(lists, marks, strict=True)))  # type: ignore[arg-type]


def _route_indexes(compiler: _Compiler, routed: list[Candidate], indexes: list[int]) -> list[_Found]:
    """Route these candidates: what they reported (nothing for those that reported nothing)."""
    found = (_route(compiler, index, routed[index]) for index in indexes)
    return [f for f in found if f is not None]


def _route_claimed(
    compiler: _Compiler, routed: list[Candidate], pieces: list[list[int]], claims: Claims
) -> list[_Found]:
    """The worker's task: route the pieces no process has taken yet, hand back what they reported."""
    found: list[_Found] = []
    while (number := claims.take()) is not None:
        found.extend(_route_indexes(compiler, routed, pieces[number]))
    return found
