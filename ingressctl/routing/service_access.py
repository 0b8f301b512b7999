"""Service annotations of this family: Traefik 1.7's `max-conn-amount` and `max-conn-extractor-func`
(at most N requests in progress per source, counted across every route of the Service; beyond,
429). Read once per Service per compile; a bad value is an error at its line and the routes to
that Service answer 503."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ingressctl.model import Diagnostic, RouteBackend, RouteMiddlewares, Service, Severity
from ingressctl.routing.annotation_values import service_finding

if TYPE_CHECKING:  # the access model loads with the first Service that sets a limit (issue 18)
    from ingressctl.model.access import InFlightLimit

    # (the limit, or None; what fails closed, or "") per Service
    _Found = tuple[InFlightLimit | None, str]

MAX_CONN_AMOUNT = "traefik.ingress.kubernetes.io/max-conn-amount"
MAX_CONN_EXTRACTOR = "traefik.ingress.kubernetes.io/max-conn-extractor-func"

KNOWN_SERVICE_ACCESS: dict[str, str] = {
    MAX_CONN_AMOUNT: "Service annotation: at most this many requests in progress per source, counted "
    "across the Service's routes; beyond: 429.",
    MAX_CONN_EXTRACTOR: "Service annotation: what max-conn-amount counts per: client.ip (default), "
    "request.host or request.header.NAME.",
}

_EXTRACTORS = frozenset({"client.ip", "request.host"})  # SourceKind values; request.header.NAME apart
_TRAEFIK_LIMITED = 429


class ServiceAccess:
    """The in-flight limits Services ask for, with their findings, for one compile."""

    def __init__(self, services: dict[tuple[str, str], Service]) -> None:
        self.services = services
        self.diagnostics: list[Diagnostic] = []
        self._found: dict[tuple[str, str], _Found] = {}

    def apply(self, backend: RouteBackend, middlewares: RouteMiddlewares) -> RouteMiddlewares:
        """`middlewares`, plus the in-flight limit of the backend's Service (or its failure)."""
        key = (backend.namespace, backend.service)
        found = self._found.get(key)
        if found is None:
            service = self.services.get(key)
            found = self._found[key] = self._read(service) if service is not None else (None, "")
        limit, failure = found
        if limit is None and not failure:
            return middlewares
        access = middlewares.access
        if failure:
            access = dataclasses.replace(access, failures=(*access.failures, ("in-flight-limit", failure)))
        else:
            access = dataclasses.replace(access, backend_in_flight=limit)
        return dataclasses.replace(middlewares, access=access)

    def _read(self, service: Service) -> _Found:
        annotations = service.meta.annotations
        raw = annotations.get(MAX_CONN_AMOUNT)
        extractor = annotations.get(MAX_CONN_EXTRACTOR)
        if raw is None:
            if extractor is not None:
                self._report(
                    service, MAX_CONN_EXTRACTOR, Severity.WARNING, "has no effect without max-conn-amount"
                )
            return None, ""
        try:
            amount = int(raw.strip())
        except ValueError:
            amount = 0
        if amount <= 0:
            return None, self._fail(service, MAX_CONN_AMOUNT, f"{raw!r} is not a positive whole number")
        from ingressctl.model.access import InFlightLimit, SourceKey, SourceKind

        source = SourceKey(SourceKind.CLIENT_IP)
        if extractor is not None:
            text = extractor.strip()
            kind = SourceKind(text.lower()) if text.lower() in _EXTRACTORS else None
            if kind is not None:
                source = SourceKey(kind)
            elif text.lower().startswith("request.header.") and len(text) > len("request.header."):
                source = SourceKey(SourceKind.HEADER, text[len("request.header.") :])
            else:
                return None, self._fail(
                    service,
                    MAX_CONN_EXTRACTOR,
                    f"{extractor!r} is not client.ip, request.host or request.header.NAME",
                )
        shared = f"Service {service.meta.namespace}/{service.meta.name}"
        return InFlightLimit(source, amount, _TRAEFIK_LIMITED, (), MAX_CONN_AMOUNT, shared), ""

    def _fail(self, service: Service, key: str, problem: str) -> str:
        self._report(
            service,
            key,
            Severity.ERROR,
            f"{problem}; every route to this Service answers 503 until it is fixed",
        )
        return f"{key} on Service {service.meta.namespace}/{service.meta.name}: {problem}"

    def _report(self, service: Service, key: str, severity: Severity, message: str) -> None:
        hint = 'Write e.g. max-conn-amount: "10" and max-conn-extractor-func: client.ip.'
        self.diagnostics.append(service_finding(service, key, message, hint, severity))
