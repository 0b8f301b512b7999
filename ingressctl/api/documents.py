"""The large API documents (routers, services, diagnostics), built once per configuration.

A table of thousands of routes takes tens of milliseconds to serialise, and the API shares the
event loop with the proxy: rebuilding on every dashboard poll would stall requests in flight.
So the documents are built only when the table or the diagnostics change (compared by object
identity: the server swaps whole immutable objects), large ones in a worker thread, and served
with an ETag so pollers get a 304 without a body while nothing changed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingressctl.api import serialize
from ingressctl.api.view import RouteTable, RuntimeView
from ingressctl.model import Diagnostic

# Below this many routes, building inline is cheaper than a hop to a thread.
_THREAD_THRESHOLD = 300


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Documents:
    routers: dict[str, serialize.Json]  # by router id, in table order
    routers_json: bytes  # the JSON arrays, ready to send
    services_json: bytes
    diagnostics_json: bytes
    router_counts: dict[str, int]
    service_counts: dict[str, int]
    diagnostic_counts: dict[str, int]
    etag: str
    # For the live health overlay (health.py): each service, its own JSON, and which services
    # each endpoint address belongs to.
    services: tuple[serialize.Json, ...] = ()
    service_parts: tuple[bytes, ...] = ()
    services_by_address: dict[str, tuple[int, ...]] = field(default_factory=dict)


def build_documents(table: RouteTable | None, diagnostics: Sequence[Diagnostic], etag: str) -> Documents:
    routes = serialize.all_routes(table)
    routers = serialize.routers_json(routes, diagnostics)
    services = serialize.services_json(routes)
    service_parts = tuple(_dumps(s) for s in services)
    by_address: dict[str, list[int]] = {}
    for i, service in enumerate(services):
        for endpoint in service["endpoints"]:
            by_address.setdefault(endpoint["address"], []).append(i)
    diags = [serialize.diagnostic_json(d) for d in diagnostics]
    return Documents(
        routers={r["id"]: r for r in routers},
        routers_json=_dumps(routers),
        services_json=b"[" + b",".join(service_parts) + b"]",
        diagnostics_json=_dumps(diags),
        router_counts=serialize.count_by(routers, "status"),
        service_counts=serialize.count_by(services, "status"),
        diagnostic_counts=serialize.count_by(diags, "severity"),
        etag=etag,
        services=tuple(services),
        service_parts=service_parts,
        services_by_address={k: tuple(v) for k, v in by_address.items()},
    )


class DocumentCache:
    def __init__(self, view: RuntimeView) -> None:
        self._view = view
        # Holding the keys keeps them alive, so an identity match cannot be a reused address.
        self._table: RouteTable | None = None
        self._diagnostics: tuple[Diagnostic, ...] = ()
        self._documents: Documents | None = None
        self._instance = secrets.token_hex(4)  # ETags of another process never match ours
        self._generation = 0
        self._building = asyncio.Lock()

    def _matches(self, table: RouteTable | None, diagnostics: Sequence[Diagnostic]) -> bool:
        return (
            self._documents is not None
            and table is self._table
            and len(diagnostics) == len(self._diagnostics)
            and all(a is b for a, b in zip(diagnostics, self._diagnostics, strict=True))
        )

    async def get(self) -> Documents:
        table = self._view.table()
        diagnostics = tuple(self._view.diagnostics())
        if self._matches(table, diagnostics):
            assert self._documents is not None
            return self._documents
        # Pollers arriving while a build runs wait for it instead of building the same again.
        async with self._building:
            if self._matches(table, diagnostics):
                assert self._documents is not None
                return self._documents
            return await self._build(table, diagnostics)

    async def _build(self, table: RouteTable | None, diagnostics: tuple[Diagnostic, ...]) -> Documents:
        self._generation += 1
        etag = f'"{self._instance}-{self._generation}"'
        size = len(table.routes) if table is not None else 0
        if size < _THREAD_THRESHOLD:
            documents = build_documents(table, diagnostics, etag)
        else:
            documents = await asyncio.to_thread(build_documents, table, diagnostics, etag)
        self._table, self._diagnostics, self._documents = table, diagnostics, documents
        return documents
