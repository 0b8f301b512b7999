"""IC305: explain why a backend port does not name a port of its Service.

The compiler already reports the unknown port (and the route answers 503); this finding says why,
for the two mistakes people actually make: naming an unnamed port, and giving the container's
targetPort instead of the Service's port.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Ingress, IngressBackend, Service, Severity


def _backends(ingress: Ingress) -> Iterator[IngressBackend]:
    if ingress.default_backend is not None:
        yield ingress.default_backend
    for rule in ingress.rules:
        for path in rule.paths:
            yield path.backend


def _explain(backend: IngressBackend, service: Service) -> tuple[str, str] | None:
    """(why, fix) when the backend's port is not a port of the Service and we can tell why."""
    ports = service.ports
    if backend.port_name is not None:
        for port in ports:  # a loop, not any(): the usual backend names a port of its Service
            if port.name == backend.port_name:
                return None
        if ports and all(not p.name for p in ports):
            numbers = ", ".join(str(p.port) for p in ports)
            return (
                f"port name {backend.port_name!r} is used but the Service's ports have no names ({numbers})",
                f"use service.port.number: {ports[0].port}, or name the Service port {backend.port_name!r}",
            )
        target = next((p for p in ports if p.target_port == backend.port_name), None)
        if target is not None:
            return (
                f"{backend.port_name!r} is the targetPort (container port) of Service port "
                f"{target.name or target.port}, not a Service port name",
                f"use service.port.name: {target.name}"
                if target.name
                else f"use service.port.number: {target.port}",
            )
        return None
    if backend.port_number is not None:
        for port in ports:
            if port.port == backend.port_number:
                return None
        target = next((p for p in ports if p.target_port == backend.port_number), None)
        if target is not None:
            return (
                f"{backend.port_number} is the targetPort (container port) of Service port {target.port}; "
                "an Ingress names the Service's port",
                f"use service.port.number: {target.port}",
            )
    return None


def check_backend_ports(ctx: LintContext) -> Iterator[Diagnostic]:
    # By namespace/name, what a Service's ref holds (without building a ref per Service and backend).
    services = {(service.meta.namespace, service.meta.name): service for service in ctx.snapshot.services}
    for ingress in ctx.served_ingresses():
        for backend in _backends(ingress):
            if backend.service_name is None:
                continue
            service = services.get((ingress.meta.namespace, backend.service_name))
            if service is None or service.type == "ExternalName":
                continue
            explanation = _explain(backend, service)
            if explanation is None:
                continue
            why, fix = explanation
            yield Diagnostic(
                code="IC305",
                severity=Severity.INFO,
                message=f"{ingress.ref}: backend {backend.service_name}:{backend.port_text}: {why}",
                location=backend.port_location or backend.location or ingress.meta.location,
                hint=fix,
                object=ingress.ref,
                related=(service.meta.location,) if service.meta.location else (),
            )
