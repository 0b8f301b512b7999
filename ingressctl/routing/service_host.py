"""Which Host the backend sees, from the Service: Traefik v2/v3 read `service.passhostheader` from
the Service, Traefik 1.7 `preserve-host` from the Ingress. Both are one setting
(`Rewrites.pass_host_header`): the Service's value, when it has one, wins for the routes to it.
A value that is not a boolean is a warning at its line and the Ingress's setting stays."""

from __future__ import annotations

import dataclasses

from ingressctl.model import Diagnostic, RouteBackend, RouteMiddlewares, Service, Severity
from ingressctl.routing.annotation_values import parse_boolean, service_finding
from ingressctl.routing.annotations_rewrites import PASS_HOST_HEADER


class ServiceHost:
    """The passhostheader of each Service, read once per compile, applied to its routes."""

    def __init__(self, services: dict[tuple[str, str], Service]) -> None:
        self.services = services
        self.diagnostics: list[Diagnostic] = []
        self._found: dict[tuple[str, str], bool | None] = {}

    def apply(self, backend: RouteBackend, middlewares: RouteMiddlewares) -> RouteMiddlewares:
        key = (backend.namespace, backend.service)
        if key not in self._found:
            service = self.services.get(key)
            self._found[key] = self._read(service) if service is not None else None
        passes = self._found[key]
        if passes is None:
            return middlewares
        from ingressctl.model.rewrites import Rewrites  # with the first Service that says (issue 18)

        rewrites = middlewares.rewrites or Rewrites()
        if rewrites.pass_host_header is passes:
            return middlewares
        return dataclasses.replace(
            middlewares, rewrites=dataclasses.replace(rewrites, pass_host_header=passes)
        )

    def _read(self, service: Service) -> bool | None:
        raw = service.meta.annotations.get(PASS_HOST_HEADER)
        if raw is None:
            return None
        value = parse_boolean(raw)
        if value is None:
            self.diagnostics.append(
                service_finding(
                    service,
                    PASS_HOST_HEADER,
                    f"{raw!r} is not a boolean; ignored",
                    'Write "true" or "false".',
                    Severity.WARNING,
                )
            )
        return value
