"""The compile cache's Gateway API half (ingressctl.gateway.memo): a compile with the cache gives what
a fresh compile gives, reusing the unchanged HTTPRoutes' Route objects, and sees every input an
HTTPRoute's routes depend on (its Services, Namespace labels, Gateways)."""

from __future__ import annotations

import dataclasses

from ingressctl.model import Snapshot
from ingressctl.routing import CompileCache, compile
from ingressctl.routing.options import CompileOptions
from tests.routing.gateway_builders import CLASS, service, snapshot
from tests.routing.test_gateway_namespaces import namespace, selecting

OPTIONS = CompileOptions(gateway=True, entrypoint_ports=(("web", 8080, False),))


def route(name: str, ns: str, host: str, backend: str) -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {ns}}}
spec:
  parentRefs: [{{name: gw, namespace: infra}}]
  hostnames: [{host}]
  rules: [{{backendRefs: [{{name: {backend}, port: 8080}}]}}]
"""


def base() -> Snapshot:
    return snapshot(
        "---\n".join(
            [
                CLASS,
                selecting("{matchLabels: {expose: 'yes'}}"),
                namespace("shop", "{expose: 'yes'}"),
                route("a", "shop", "a.test", "app"),
                route("b", "shop", "b.test", "app"),
                service("app", "shop"),
            ]
        )
    )


def same_as_fresh(snap: Snapshot, cache: CompileCache) -> tuple[object, ...]:
    cached, cached_found = compile(snap, OPTIONS, cache)
    fresh, fresh_found = compile(snap, OPTIONS)
    assert cached.routes == fresh.routes
    assert sorted(map(str, cached_found)) == sorted(map(str, fresh_found))
    assert cached.gateway_status == fresh.gateway_status
    return tuple(cached.routes)


def test_a_changed_route_is_recompiled_and_the_others_are_the_same_objects() -> None:
    cache = CompileCache()
    snap = base()
    first = same_as_fresh(snap, cache)
    changed = snapshot(route("b", "shop", "b2.test", "app")).http_routes[0]
    snap = dataclasses.replace(snap, http_routes=(snap.http_routes[0], changed))
    second = same_as_fresh(snap, cache)
    a_before = [r for r in first if r.host == "a.test"]
    a_after = [r for r in second if r.host == "a.test"]
    assert a_before and all(x is y for x, y in zip(a_before, a_after, strict=True))
    assert {r.host for r in second} == {"a.test", "b2.test"}


def test_a_service_change_reaches_unchanged_routes() -> None:
    cache = CompileCache()
    snap = base()
    same_as_fresh(snap, cache)
    moved = snapshot(service("app", "shop", port=9999))
    snap = dataclasses.replace(snap, endpoint_slices=moved.endpoint_slices, services=moved.services)
    routes = same_as_fresh(snap, cache)
    assert {u.port for r in routes for u in r.backend.upstreams} == {9999}
    snap = dataclasses.replace(snap, endpoint_slices=(), services=())
    assert all(r.backend.problem is not None for r in same_as_fresh(snap, cache))


def test_a_namespace_relabel_detaches_unchanged_routes() -> None:
    cache = CompileCache()
    snap = base()
    assert same_as_fresh(snap, cache)
    relabelled = snapshot(namespace("shop", "{expose: 'no'}")).namespaces
    snap = dataclasses.replace(snap, namespaces=relabelled)
    assert same_as_fresh(snap, cache) == ()
