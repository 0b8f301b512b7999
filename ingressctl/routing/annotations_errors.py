"""Error pages (Traefik error-pages, ingress-nginx custom-http-errors) and ingress-nginx's
default-backend, parsed for ingressctl.routing.annotations_backend and resolved to endpoints by the
compiler's resolver."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ingressctl.model import RouteBackend, Severity
from ingressctl.model.backend_policy import BackendPolicy, ErrorPages
from ingressctl.routing.backend_keys import ERROR_PAGES, N_CUSTOM_ERRORS, N_DEFAULT_BACKEND
from ingressctl.routing.refusals import control_characters

if TYPE_CHECKING:
    from ingressctl.routing.annotations_backend import AnnotationOrigin, BackendPolicyParser

ServiceResolver = Callable[[str, str], RouteBackend]
"""(Service name, port or "") → the resolved backend in the Ingress's namespace (the compiler's)."""

_SERVICE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PORT = re.compile(r"^[A-Za-z0-9-]{1,15}$")


def _statuses(
    parser: BackendPolicyParser, key: str, origin: AnnotationOrigin, items: list[str]
) -> tuple[tuple[int, int], ...] | None:
    out: list[tuple[int, int]] = []
    for item in items:
        low_text, dash, high_text = item.strip().partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if dash else low
        except ValueError:
            low, high = 0, 0
        if not 100 <= low <= high <= 599:
            parser.bad(
                key,
                origin,
                f"{item!r} is not a status or a range of statuses",
                "Write e.g. 404 or 500-599.",
            )
            return None
        out.append((low, high))
    return tuple(out)


def _service_ref(
    parser: BackendPolicyParser, key: str, origin: AnnotationOrigin, text: str
) -> tuple[str, str] | None:
    name, _, port = text.strip().partition(":")
    if not _SERVICE_NAME.match(name) or (port and not _PORT.match(port)):
        parser.bad(
            key,
            origin,
            f"{text!r} is not the name of a Service (and port) of the Ingress's namespace",
            "Write e.g. error-pages or error-pages:80.",
        )
        return None
    return name, port


def error_pages(parser: BackendPolicyParser) -> tuple[ErrorPages, ...]:
    pages: list[ErrorPages] = []
    found = parser.text(ERROR_PAGES)
    if found is not None:
        text, origin = found
        hint = "Write YAML: 'name: {status: [\"500-599\"], backend: SERVICE, query: /{status}.html}'."
        import yaml  # only this annotation needs PyYAML; validate starts without it

        try:
            loaded = yaml.safe_load(text) if len(text) < 8192 else None
        except yaml.YAMLError:
            loaded = None
        if not isinstance(loaded, dict) or not loaded:
            parser.bad(ERROR_PAGES, origin, "is not a YAML mapping of error pages", hint)
            return ()
        for name, entry in loaded.items():
            if not isinstance(entry, dict) or not {"status", "backend"} <= set(entry):
                parser.bad(ERROR_PAGES, origin, f"error page {name!r} needs status and backend", hint)
                return ()
            raw_status = entry["status"]
            items = (
                [str(x) for x in raw_status] if isinstance(raw_status, list) else str(raw_status).split(",")
            )
            ranges = _statuses(parser, ERROR_PAGES, origin, items)
            service = _service_ref(parser, ERROR_PAGES, origin, str(entry["backend"]))
            query = str(entry.get("query", "/"))
            if not query.startswith("/") or control_characters(query) or " " in query:
                parser.bad(
                    ERROR_PAGES, origin, f"query {query!r} is not a path", "Write e.g. /{status}.html."
                )
                return ()
            if ranges is None or service is None:
                return ()
            pages.append(ErrorPages(ranges, service[0], service[1], query))
    codes_found = parser.text(N_CUSTOM_ERRORS)
    backend_found = parser.text(N_DEFAULT_BACKEND)
    if codes_found is not None:
        text, origin = codes_found
        ranges = _statuses(parser, N_CUSTOM_ERRORS, origin, [c for c in text.split(",") if c.strip()] or [""])
        if backend_found is None:
            parser.report(
                N_CUSTOM_ERRORS,
                origin,
                "has no effect without default-backend (ingressctl has no global default backend)",
                f"Add {N_DEFAULT_BACKEND} naming the Service that serves the error pages.",
                Severity.WARNING,
            )
        elif ranges is not None:
            service = _service_ref(parser, N_DEFAULT_BACKEND, backend_found[1], backend_found[0])
            if service is not None:
                pages.append(ErrorPages(ranges, service[0], "", "/", nginx_headers=True))
    return tuple(pages)


def fallback_service(parser: BackendPolicyParser) -> str:
    found = parser.text(N_DEFAULT_BACKEND)
    if found is None:
        return ""
    service = _service_ref(parser, N_DEFAULT_BACKEND, found[1], found[0])
    return service[0] if service is not None else ""


def resolved(policy: BackendPolicy, resolve: ServiceResolver, parser: BackendPolicyParser) -> BackendPolicy:
    """The error-page and fallback Services resolved to endpoints; an unusable one is a warning and the
    original answers are passed on."""

    def usable(key: str, name: str, port: str) -> RouteBackend | None:
        backend = resolve(name, port)
        if backend.problem is None and backend.upstreams:
            return backend
        found = parser.raw(key)
        assert found is not None
        parser.report(
            key,
            found[1],
            f"Service {name}{':' + port if port else ''} cannot serve "
            f"({backend.problem_detail or 'no endpoint'}); "
            "the route is served without it",
            "Point it at a Service with ready endpoints in the Ingress's namespace.",
            Severity.WARNING,
        )
        return None

    pages = tuple(
        replace(
            page,
            backend=usable(N_DEFAULT_BACKEND if page.nginx_headers else ERROR_PAGES, page.service, page.port),
        )
        for page in policy.error_pages
    )
    fallback = usable(N_DEFAULT_BACKEND, policy.fallback_service, "") if policy.fallback_service else None
    return replace(
        policy, error_pages=tuple(p for p in pages if p.backend is not None), fallback_backend=fallback
    )
