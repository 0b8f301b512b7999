"""Compile and match with Gateway API objects: 1,000 HTTPRoutes against the same 1,000 hosts as
Ingresses (the issue: routing with Gateway API objects must be as fast as with Ingresses).

Each HTTPRoute has a plain PathPrefix rule (the table's fast index, like an Ingress path) and a rule
with a header match (the Gateway index); match_request() is timed for both kinds of request, and for
the same request on the Ingress-only table.
"""

from __future__ import annotations

import time
import timeit
from typing import Any

from benchmarks.report import table
from ingressctl.manifests.objects import object_from_dict
from ingressctl.model import Snapshot

GROUP = "gateway.networking.k8s.io/v1"


def _objects(count: int) -> tuple[Snapshot, Snapshot]:
    services: list[Any] = []
    slices: list[Any] = []
    routes: list[Any] = []
    ingresses: list[Any] = []

    def read(raw: dict[str, Any]) -> Any:
        obj, _ = object_from_dict(raw)
        return obj

    for i in range(count):
        name, host = f"app-{i}", f"app-{i}.example.test"
        services.append(
            read(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                }
            )
        )
        slices.append(
            read(
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-1", "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080}],
                    "endpoints": [{"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"]}],
                }
            )
        )
        backend = [{"name": name, "port": 80}]
        routes.append(
            read(
                {
                    "apiVersion": GROUP,
                    "kind": "HTTPRoute",
                    "metadata": {"name": name},
                    "spec": {
                        "parentRefs": [{"name": "gw"}],
                        "hostnames": [host],
                        "rules": [
                            {
                                "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                                "backendRefs": backend,
                            },
                            {
                                "matches": [{"headers": [{"name": "x-canary", "value": "1"}]}],
                                "backendRefs": backend,
                            },
                        ],
                    },
                }
            )
        )
        ingresses.append(
            read(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {"name": name},
                    "spec": {
                        "rules": [
                            {
                                "host": host,
                                "http": {
                                    "paths": [
                                        {
                                            "path": "/api",
                                            "pathType": "Prefix",
                                            "backend": {"service": {"name": name, "port": {"number": 80}}},
                                        }
                                    ]
                                },
                            }
                        ]
                    },
                }
            )
        )
    gateway_class = read(
        {
            "apiVersion": GROUP,
            "kind": "GatewayClass",
            "metadata": {"name": "ingressctl"},
            "spec": {"controllerName": "ingressctl.io/gateway-controller"},
        }
    )
    gateway = read(
        {
            "apiVersion": GROUP,
            "kind": "Gateway",
            "metadata": {"name": "gw"},
            "spec": {
                "gatewayClassName": "ingressctl",
                "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
            },
        }
    )
    base = {"services": tuple(services), "endpoint_slices": tuple(slices)}
    return (
        Snapshot(ingresses=tuple(ingresses), **base),
        Snapshot(gateway_classes=(gateway_class,), gateways=(gateway,), http_routes=tuple(routes), **base),
    )


def _match_us(routing: Any, count: int, headers: dict[str, str]) -> float:
    match = routing.match_request
    hosts = [f"app-{i}.example.test" for i in range(count)]
    counter = iter(range(10**9))

    def one() -> None:
        match(hosts[next(counter) % count], "/api/v1/items", "GET", headers, "")

    number = 100_000
    return min(timeit.repeat(one, number=number, repeat=3)) / number * 1e6


def run() -> list[dict[str, object]]:
    from ingressctl.routing import compile as compile_routes
    from ingressctl.routing.options import CompileOptions

    count = 1_000
    ingress_snapshot, gateway_snapshot = _objects(count)
    rows: list[dict[str, object]] = []
    for label, snapshot in (("Ingresses", ingress_snapshot), ("HTTPRoutes", gateway_snapshot)):
        options = CompileOptions(gateway=True, entrypoint_ports=(("web", 80, False),))
        start = time.perf_counter()
        routing, _ = compile_routes(snapshot, options)
        compile_s = time.perf_counter() - start
        rows.append(
            {
                "objects": f"{count} {label}",
                "routes": len(routing.routes),
                "compile_s": compile_s,
                "match_us": _match_us(routing, count, {}),
                "header_match_us": _match_us(routing, count, {"x-canary": "1"})
                if label == "HTTPRoutes"
                else None,
            }
        )
    return rows


def render(rows: list[dict[str, object]]) -> str:
    headers = ("objects", "routes", "compile (s)", "match_request() µs, path only", "µs, header match")
    cells = (
        (
            r["objects"],
            r["routes"],
            f"{r['compile_s']:.3f}",
            f"{r['match_us']:.2f}",
            "–" if r["header_match_us"] is None else f"{r['header_match_us']:.2f}",
        )
        for r in rows
    )
    return "\n".join(["## Gateway API: compile and match at 1,000 HTTPRoutes", "", *table(headers, cells)])


if __name__ == "__main__":
    print(render(run()))
