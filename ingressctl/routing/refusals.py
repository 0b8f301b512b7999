"""Annotations ingressctl refuses to serve around: protections it does not implement, and values that
would inject control characters into headers, status lines, redirects or log lines.

Fail closed: an Ingress that asks for a protection ingressctl cannot give (an ingress-nginx or Traefik
spelling of auth, allow/deny lists, client certificates, rate limits, WAF, snippets, middlewares) has
every route answer 503, and `validate` reports an error at the annotation's line. Serving it without
the protection would open what its author closed. Other controllers' harmless annotations stay
warnings (IC307, in ingressctl.checks): served without them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingressctl.model import Diagnostic, Ingress, Severity
from ingressctl.routing import codes
from ingressctl.routing.annotations_client_auth import IMPLEMENTED as CLIENT_AUTH_IMPLEMENTED
from ingressctl.routing.report import annotation_location, finding
from ingressctl.routing.snippets import describe_snippet

NGINX = "nginx.ingress.kubernetes.io/"
NGINX_INC = "nginx.org/"
TRAEFIK_V1 = "ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"

# ingress-nginx (its annotations page): exact names, and families by prefix or suffix.
_NGINX_EXACT: dict[str, str] = {
    "satisfy": "how auth and the allow-list combine",
    "enable-modsecurity": "the ModSecurity web application firewall",
    "enable-owasp-core-rules": "the OWASP core rules of ModSecurity",
    "modsecurity-transaction-id": "the ModSecurity web application firewall",
    "ssl-passthrough": "TLS passthrough (the backend terminates TLS, and may check client certificates)",
}
_NGINX_FAMILIES: tuple[tuple[str, str], ...] = (
    ("auth-tls-", "client certificate authentication"),
    ("auth-", "authentication"),
    ("limit-", "rate or connection limits"),
    ("global-rate-limit", "rate limits"),
)
# Served by ingressctl (routing/annotations_access.py), though their families are not.
_NGINX_SERVED = frozenset(
    {
        "auth-realm",
        "auth-type",
        "auth-secret",
        "auth-secret-type",
        "auth-url",
        "auth-method",
        "auth-signin",
        "auth-signin-redirect-param",
        "auth-response-headers",
        "auth-request-redirect",
        "limit-rps",
        "limit-rpm",
        "limit-burst-multiplier",
        "limit-connections",
        "limit-whitelist",
    }
)

_NGINX_INC_EXACT: dict[str, str] = {
    "basic-auth-secret": "authentication",
    "jwt-key": "JWT authentication",
    "jwt-policy": "JWT authentication",
}

# Traefik 1.7 Ingress annotations (and v2/v3 router annotations) that ingressctl does not implement.
_TRAEFIK_V1_EXACT: dict[str, str] = {}
_TRAEFIK_EXACT: dict[str, str] = {
    "max-conn": "connection limits",
    "router.middlewares": "Traefik middlewares (authentication, allow-lists, limits, ...)",
    "router.tls.options": "Traefik TLS options (client certificates, versions)",
}


# Traefik's own annotations that ingressctl does not implement and that protect nothing: not typos
# (IC302) but "not supported, served without it" (IC307).
_TRAEFIK_V1_HARMLESS = frozenset(
    {
        "proxy-headers",
    }
)
_TRAEFIK_HARMLESS = frozenset(
    {
        "router.observability.accesslogs",
        "router.observability.metrics",
        "router.observability.tracing",
        "service.serversscheme",
        "service.serverstransport",
        "service.nativelb",
    }
)


def unsupported_traefik(key: str) -> bool:
    """True for a real Traefik annotation that ingressctl does not implement and that protects nothing."""
    if key.startswith(TRAEFIK):
        return key[len(TRAEFIK) :] in _TRAEFIK_HARMLESS
    return key.startswith(TRAEFIK_V1) and key[len(TRAEFIK_V1) :] in _TRAEFIK_V1_HARMLESS


def protection(key: str) -> str | None:
    """What the annotation `key` protects, when it is another controller's protection ingressctl
    cannot honour (the route must fail closed); None for every other key."""
    if key.startswith(NGINX):
        name = key[len(NGINX) :]
        if name in _NGINX_SERVED:
            return None
        if name.endswith("-snippet") or name.endswith("-snippets"):
            return "nginx configuration (a snippet, never executed by ingressctl)"
        found = _NGINX_EXACT.get(name)
        if found is not None:
            return found
        if key in CLIENT_AUTH_IMPLEMENTED:
            return None
        return next((what for prefix, what in _NGINX_FAMILIES if name.startswith(prefix)), None)
    if key.startswith(NGINX_INC):
        name = key[len(NGINX_INC) :]
        if name.endswith("-snippets") or name.endswith("-snippet"):
            return "nginx configuration (a snippet, never executed by ingressctl)"
        return _NGINX_INC_EXACT.get(name)
    if key.startswith(TRAEFIK):
        return _TRAEFIK_EXACT.get(key[len(TRAEFIK) :])
    if key.startswith(TRAEFIK_V1):
        return _TRAEFIK_V1_EXACT.get(key[len(TRAEFIK_V1) :])
    return None


# C0 controls and DEL: CR/LF split headers and log lines, NUL cuts them, ESC drives terminals.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_characters(value: str, *, multi_line: bool = False) -> list[str]:
    """The control characters in `value` as escapes ("\\r", "\\x00"); a multi-line value (a list
    parsed line by line) may hold line breaks and tabs. Surrounding whitespace is ignored: YAML
    block scalars end with a newline."""
    pattern = _CONTROL_BUT_LINE_BREAKS if multi_line else _CONTROL
    found = dict.fromkeys(pattern.findall(value.strip()))
    return [repr(c)[1:-1] for c in found]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why every route of an Ingress answers 503 ("" when it does not), and the findings."""

    reason: str
    diagnostics: tuple[Diagnostic, ...]


def refuse_foreign_protections(ingress: Ingress, *, ignore_snippets: bool = False) -> Refusal:
    """Every annotation of `ingress` that asks for a protection ingressctl does not implement.

    ignore_snippets (serve/validate --ignore-snippets): nginx snippets are still never executed,
    but the routes are served without them (a warning instead of a refusal)."""
    found: list[Diagnostic] = []
    keys: list[str] = []
    for key in sorted(ingress.meta.annotations):
        what = protection(key)
        if what is None:
            continue
        if is_snippet(key):
            diagnostic = snippet_finding(ingress, key, ignore_snippets)
            found.append(diagnostic)
            if not ignore_snippets:
                keys.append(key)
            continue
        keys.append(key)
        found.append(
            finding(
                codes.UNSUPPORTED_PROTECTION,
                Severity.ERROR,
                ingress,
                f"annotation {key} asks for {what}, which ingressctl does not implement; "
                "every route of this Ingress answers 503 rather than serve without it",
                "Remove the annotation, give the Ingress the class of the controller it was written for, "
                "or use ingressctl's own annotations (see the README's annotation table).",
                annotation_location(ingress, key),
            )
        )
    reason = f"unsupported protection annotations: {', '.join(keys)}" if keys else ""
    return Refusal(reason, tuple(found))


def is_snippet(key: str) -> bool:
    """nginx configuration injected by an annotation (never executed by ingressctl)."""
    if not key.startswith((NGINX, NGINX_INC)):
        return False
    return key.endswith(("-snippet", "-snippets"))


def snippet_finding(ingress: Ingress, key: str, ignored: bool) -> Diagnostic:
    """The finding for a snippet: what it tried to do (routing/snippets.py) and what to use instead."""
    does, instead = describe_snippet(ingress.meta.annotations.get(key, ""))
    use = f"Use {instead} instead and remove the snippet" if instead else "Remove the snippet"
    if ignored:
        return finding(
            codes.UNSUPPORTED_PROTECTION,
            Severity.WARNING,
            ingress,
            f"annotation {key} is nginx configuration ({does}), which ingressctl never executes; "
            "served without it (--ignore-snippets)",
            f"{use}.",
            annotation_location(ingress, key),
        )
    return finding(
        codes.UNSUPPORTED_PROTECTION,
        Severity.ERROR,
        ingress,
        f"annotation {key} is nginx configuration ({does}), which ingressctl never executes; "
        "every route of this Ingress answers 503 rather than serve without it",
        f"{use}; or serve the routes without it with --ignore-snippets.",
        annotation_location(ingress, key),
    )
