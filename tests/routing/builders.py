"""Small builders for model objects, so each test states only what it is about."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingressctl.model import (
    Diagnostic,
    Endpoint,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressPath,
    IngressRule,
    IngressTLS,
    Location,
    ObjectMeta,
    PathType,
    Secret,
    Service,
    ServicePort,
    Snapshot,
)
from ingressctl.routing import CompileOptions, RoutingTable, compile

EXACT = PathType.EXACT
PREFIX = PathType.PREFIX
IMPLEMENTATION_SPECIFIC = PathType.IMPLEMENTATION_SPECIFIC
IMPL = PathType.IMPLEMENTATION_SPECIFIC

CERT_PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY_PEM = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def loc(line: int, file: str = "app.yaml") -> Location:
    return Location(file, line, 1)


def backend(service: str = "web", port: int | str = 80) -> IngressBackend:
    if isinstance(port, int):
        return IngressBackend(service_name=service, port_number=port, location=None)
    return IngressBackend(service_name=service, port_name=port)


def path(
    p: str,
    path_type: PathType | None = PREFIX,
    service: str = "web",
    port: int | str = 80,
    location: Location | None = None,
) -> IngressPath:
    return IngressPath(p, path_type, backend(service, port), location=location)


def rule(host: str | None, *paths: IngressPath) -> IngressRule:
    return IngressRule(host, tuple(paths))


def ingress(
    name: str,
    *rules: IngressRule,
    ns: str = "default",
    ts: str = "",
    annotations: Mapping[str, str] | None = None,
    default: IngressBackend | None = None,
    tls: Sequence[IngressTLS] = (),
    class_name: str | None = None,
    location: Location | None = None,
) -> Ingress:
    return Ingress(
        meta=ObjectMeta(
            name=name,
            namespace=ns,
            creation_timestamp=ts,
            annotations=dict(annotations or {}),
            location=location,
        ),
        ingress_class_name=class_name,
        default_backend=default,
        rules=tuple(rules),
        tls=tuple(tls),
    )


def service(
    name: str = "web",
    ns: str = "default",
    ports: Sequence[ServicePort] = (ServicePort(80, "http", 8080),),
    type: str = "ClusterIP",
    external_name: str = "",
) -> Service:
    return Service(ObjectMeta(name, ns), type=type, ports=tuple(ports), external_name=external_name)


def ep(
    address: str, ready: bool | None = None, serving: bool | None = None, terminating: bool | None = None
) -> Endpoint:
    return Endpoint((address,), ready=ready, serving=serving, terminating=terminating)


def endpoint_slice(
    svc: str = "web",
    *endpoints: Endpoint,
    ns: str = "default",
    ports: Sequence[EndpointPort] = (EndpointPort(8080, "http"),),
    name: str = "",
) -> EndpointSlice:
    return EndpointSlice(
        ObjectMeta(name or f"{svc}-abc", ns), svc, ports=tuple(ports), endpoints=tuple(endpoints)
    )


def legacy_endpoints(
    svc: str,
    ready: Sequence[str] = (),
    not_ready: Sequence[str] = (),
    ns: str = "default",
    ports: Sequence[EndpointPort] = (EndpointPort(8080, "http"),),
) -> Endpoints:
    return Endpoints(ObjectMeta(svc, ns), (EndpointSubset(tuple(ready), tuple(not_ready), tuple(ports)),))


def secret(name: str, data: Mapping[str, bytes], ns: str = "default", type: str = "Opaque") -> Secret:
    return Secret(ObjectMeta(name, ns), type=type, data=dict(data))


def tls_secret(name: str, ns: str = "default") -> Secret:
    return secret(name, {"tls.crt": CERT_PEM, "tls.key": KEY_PEM}, ns, "kubernetes.io/tls")


def ingress_class(name: str, controller: str, default: bool = False) -> IngressClass:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return IngressClass(ObjectMeta(name, "", annotations=annotations), controller=controller)


def web_world(*ingresses: Ingress, **extra: Any) -> Snapshot:
    """Ingresses plus a healthy Service `web` (port 80 "http" → 8080) with one ready endpoint."""
    return Snapshot(
        ingresses=tuple(ingresses),
        services=(service(), *extra.pop("services", ())),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")), *extra.pop("endpoint_slices", ())),
        **extra,
    )


def build(snapshot: Snapshot, **options: Any) -> tuple[RoutingTable, list[Diagnostic]]:
    return compile(snapshot, CompileOptions(**options))


def codes_of(diagnostics: Sequence[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


def route_id(table: RoutingTable, host: str, request_path: str) -> str | None:
    found = table.match(host, request_path)
    return None if found is None else found.route.id
