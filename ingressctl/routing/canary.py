"""ingress-nginx canary Ingresses: `canary: "true"` with `canary-weight` (and `canary-weight-total`).

ingress-nginx (annotations page, "Canary"): a canary Ingress names the same host and path as a main
Ingress; a share of canary-weight / canary-weight-total (default 100) of the requests goes to the
canary's Service, the rest to the main one, and the canary's other annotations are ignored (the
route keeps the main Ingress's). ingressctl merges the two into one route whose upstreams are split
by those weights (the same split as Traefik's service-weights).

With `canary-by-header` (and `-by-header-value` or `-by-header-pattern`) or `canary-by-cookie` the
canary is chosen per request, in ingress-nginx's order: the header (`always` → canary, `never` →
main, the configured value or a value the pattern matches → canary), then the cookie (`always` /
`never`), then canary-weight for the rest (model/canary.py; the proxy decides in proxy/canary.py).
A canary without a main Ingress for its host and path serves nothing (as in ingress-nginx).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingressctl.model import Diagnostic, Ingress, Severity
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding
from ingressctl.routing.userregex import check_user_regex

if TYPE_CHECKING:  # the model loads with the first canary Ingress (validate start-up, issue 18)
    from ingressctl.model.canary import CanaryRules

NGINX = "nginx.ingress.kubernetes.io/"
CANARY = NGINX + "canary"
CANARY_WEIGHT = NGINX + "canary-weight"
CANARY_WEIGHT_TOTAL = NGINX + "canary-weight-total"
BY_HEADER = NGINX + "canary-by-header"
BY_HEADER_VALUE = NGINX + "canary-by-header-value"
BY_HEADER_PATTERN = NGINX + "canary-by-header-pattern"
BY_COOKIE = NGINX + "canary-by-cookie"
# RFC 9110 token: header and cookie names.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

KNOWN: dict[str, str] = {
    CANARY: "true: this Ingress is the canary of the main Ingress with the same host and path; the two "
    "become one route split by canary-weight, or chosen per request by canary-by-header / "
    "canary-by-cookie (as ingress-nginx).",
    CANARY_WEIGHT: "Share of the requests sent to the canary, out of canary-weight-total (default 0).",
    CANARY_WEIGHT_TOTAL: "Total of canary-weight (default 100).",
    BY_HEADER: "Request header that picks the canary: always sends the request to it, never keeps it on "
    "the main Service, other values fall through to canary-by-cookie and canary-weight (as ingress-nginx).",
    BY_HEADER_VALUE: "With canary-by-header: the header value that sends a request to the canary (instead "
    "of always); other values fall through.",
    BY_HEADER_PATTERN: "With canary-by-header: a regular expression (RE2) searched in the header value; "
    "a match sends the request to the canary. Ignored when canary-by-header-value is set.",
    BY_COOKIE: "Cookie that picks the canary after the header: always sends the request to it, never keeps "
    "it on the main Service, other values fall through to canary-weight.",
}


def _no_rules() -> CanaryRules:
    from ingressctl.model.canary import CanaryRules

    return CanaryRules()


@dataclass(frozen=True, slots=True)
class Canary:
    """What a canary Ingress asks for: its share of the requests and its per-request rules."""

    weight: int = 0
    total: int = 100
    rules: CanaryRules = field(default_factory=_no_rules)

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
    header = _name(ingress, BY_HEADER, "header", found)
    value = annotations.get(BY_HEADER_VALUE, "").strip()
    pattern = annotations.get(BY_HEADER_PATTERN, "").strip()
    for key, given in ((BY_HEADER_VALUE, value), (BY_HEADER_PATTERN, pattern)):
        if given and not header:
            found.append(_unused(ingress, key, "it needs canary-by-header; it is ignored"))
    if header and value and pattern:
        found.append(_unused(ingress, BY_HEADER_PATTERN, "canary-by-header-value is set, so it is ignored"))
        pattern = ""
    if header and pattern:
        problem = check_user_regex(pattern)
        if problem:
            found.append(_unused(ingress, BY_HEADER_PATTERN, f"{problem}; it is ignored"))
            pattern = ""
    cookie = _name(ingress, BY_COOKIE, "cookie", found)
    from ingressctl.model.canary import CanaryRules

    rules = CanaryRules(
        header=header,
        header_value=value if header else "",
        header_pattern=pattern if header else "",
        cookie=cookie,
        weight=weight,
        total=total,
    )
    return Canary(weight, total, rules), found


def _name(ingress: Ingress, key: str, what: str, found: list[Diagnostic]) -> str:
    raw = ingress.meta.annotations.get(key)
    if raw is None or not raw.strip():
        return ""
    name = raw.strip()
    if not _TOKEN.fullmatch(name):
        found.append(
            _unused(ingress, key, f"{name!r} is not a {what} name (letters, digits, -); it is ignored")
        )
        return ""
    return name


def _unused(ingress: Ingress, key: str, message: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {key}: {message}",
        "See the canary annotations in ingress-nginx's annotations page.",
        annotation_location(ingress, key),
    )


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
