"""ingress-nginx canary Ingresses: `canary: "true"` with `canary-weight` (and `canary-weight-total`).

ingress-nginx (annotations page, "Canary"): a canary Ingress names the same host and path as a main
Ingress; a share of canary-weight / canary-weight-total (default 100) of the requests goes to the
canary's Service, the rest to the main one, and the canary's other annotations are ignored (the
route keeps the main Ingress's). ingressctl merges the two into one route whose upstreams are split
by those weights (the same split as Traefik's service-weights). `canary-by-header`, `-by-header-value`,
`-by-header-pattern` and `-by-cookie` are not implemented: warnings, and only the weight applies.
A canary without a main Ingress for its host and path serves nothing (as in ingress-nginx).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model import Diagnostic, Ingress, Severity
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding

NGINX = "nginx.ingress.kubernetes.io/"
CANARY = NGINX + "canary"
CANARY_WEIGHT = NGINX + "canary-weight"
CANARY_WEIGHT_TOTAL = NGINX + "canary-weight-total"
_BY_REQUEST = ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie")

KNOWN: dict[str, str] = {
    CANARY: "true: this Ingress is the canary of the main Ingress with the same host and path; the two "
    "become one route split by canary-weight (as ingress-nginx).",
    CANARY_WEIGHT: "Share of the requests sent to the canary, out of canary-weight-total (default 0).",
    CANARY_WEIGHT_TOTAL: "Total of canary-weight (default 100).",
}


@dataclass(frozen=True, slots=True)
class Canary:
    weight: int = 0
    total: int = 100

    @property
    def percent(self) -> float:
        return 100.0 * self.weight / self.total


def parse_canary(ingress: Ingress) -> tuple[Canary | None, list[Diagnostic]]:
    annotations = ingress.meta.annotations
    raw = annotations.get(CANARY)
    if raw is None or raw.strip().lower() not in ("true", "1", "t"):
        return None, []
    found: list[Diagnostic] = []
    total = _number(ingress, CANARY_WEIGHT_TOTAL, 100, found)
    if total <= 0:
        found.append(_bad(ingress, CANARY_WEIGHT_TOTAL, "must be above 0; 100 is used"))
        total = 100
    weight = _number(ingress, CANARY_WEIGHT, 0, found)
    if not 0 <= weight <= total:
        found.append(_bad(ingress, CANARY_WEIGHT, f"must be between 0 and {total}; 0 is used"))
        weight = 0
    for name in _BY_REQUEST:
        if NGINX + name in annotations:
            found.append(
                finding(
                    codes.BAD_ANNOTATION,
                    Severity.WARNING,
                    ingress,
                    f"annotation {NGINX + name} is not supported by ingressctl; the canary gets only its "
                    f"canary-weight share ({weight}/{total}) of the requests",
                    "Use canary-weight, or keep ingress-nginx for request-selected canaries.",
                    annotation_location(ingress, NGINX + name),
                )
            )
    return Canary(weight, total), found


def _number(ingress: Ingress, key: str, default: int, found: list[Diagnostic]) -> int:
    raw = ingress.meta.annotations.get(key)
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        found.append(_bad(ingress, key, f"{raw!r} is not a whole number; {default} is used"))
        return default


def _bad(ingress: Ingress, key: str, message: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {key}: {message}",
        'Write a whole number, e.g. "20".',
        annotation_location(ingress, key),
    )


def no_main_finding(ingress: Ingress, host: str | None, path: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"canary for {host or '(any host)'} {path} has no main Ingress with the same host and path in "
        "its namespace; it serves nothing",
        "Create the main Ingress, or remove the canary annotation.",
        annotation_location(ingress, CANARY),
    )
