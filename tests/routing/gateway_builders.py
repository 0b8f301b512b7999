"""Gateway API objects for unit tests, read the way files and the API server's objects are read."""

from __future__ import annotations

from typing import Any

import yaml

from ingressctl.manifests.objects import object_from_dict
from ingressctl.model import Namespace, Snapshot
from ingressctl.model.gateway import Gateway, GatewayClass, HTTPRoute, ReferenceGrant
from ingressctl.model.objects import EndpointSlice, Secret, Service

GROUP = "gateway.networking.k8s.io/v1"


def objects(text: str) -> list[object]:
    out: list[object] = []
    for raw in yaml.safe_load_all(text):
        if raw is None:
            continue
        obj, diagnostics = object_from_dict(raw, strict=True)
        assert not diagnostics, diagnostics
        out.append(obj)
    return out


def snapshot(text: str) -> Snapshot:
    found = objects(text)

    def of(cls: type) -> tuple[Any, ...]:
        return tuple(o for o in found if isinstance(o, cls))

    return Snapshot(
        services=of(Service),
        endpoint_slices=of(EndpointSlice),
        secrets=of(Secret),
        gateway_classes=of(GatewayClass),
        gateways=of(Gateway),
        http_routes=of(HTTPRoute),
        reference_grants=of(ReferenceGrant),
        namespaces=of(Namespace),
    )


CLASS = f"""apiVersion: {GROUP}
kind: GatewayClass
metadata: {{name: ingressctl, generation: 2}}
spec: {{controllerName: ingressctl.io/gateway-controller}}
"""


def service(name: str, namespace: str = "default", port: int = 9000) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{ports: [{{name: http, port: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-1, namespace: {namespace}, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints: [{{addresses: [127.0.0.1]}}]
"""
