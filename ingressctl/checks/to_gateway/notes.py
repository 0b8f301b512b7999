"""What the migration says about each Ingress and annotation: carried over, changed, lost, or left OPEN.

Fail closed: an annotation that protects the routes (authentication, allow- and deny-lists, client
certificates, rate limits, snippets, a key ingressctl already refuses) and that the Gateway API
cannot carry is UNPROTECTED: `migrate` writes nothing and exits 1 unless `--allow-unprotected`,
and the route's comment says what to add before applying it. Everything else that cannot be carried
is LOST (a warning and a comment); what differs is CHANGED.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ingressctl.routing.misspelt import protects
from ingressctl.routing.nginx_annotations import nginx_status
from ingressctl.routing.refusals import protection


class NoteKind(StrEnum):
    MIGRATED = "migrated"  # carried over as Gateway API fields
    CHANGED = "changed"  # carried over with a difference (the comment says which)
    LOST = "lost"  # not carried; harmless to go without (a warning)
    UNPROTECTED = "unprotected"  # a protection not carried: the route would be served OPEN
    PROBLEM = "problem"  # the output is incomplete (a named port without its Service, ...)


@dataclass(frozen=True, slots=True)
class Note:
    kind: NoteKind
    subject: str  # "Ingress ns/name"
    key: str  # the annotation, or "" for the Ingress itself
    text: str
    where: str = ""  # "file:line" of the annotation or the Ingress

    def line(self) -> str:
        place = f" ({self.where})" if self.where else ""
        head = f"{self.key}: " if self.key else ""
        return f"{self.subject}{place}: {head}{self.text}"

    def comment(self) -> str:
        head = f"{self.key}: " if self.key else ""
        return f"{_LABELS[self.kind]}: {head}{self.text}"


_LABELS = {
    NoteKind.MIGRATED: "migrated",
    NoteKind.CHANGED: "CHANGED",
    NoteKind.LOST: "NOT MIGRATED",
    NoteKind.UNPROTECTED: "NOT MIGRATED, PROTECTION",
    NoteKind.PROBLEM: "INCOMPLETE",
}

# Keys of these prefixes are read by some ingress controller: each gets a note when not carried.
CONTROLLER_PREFIXES = (
    "nginx.ingress.kubernetes.io/",
    "nginx.org/",
    "ingress.kubernetes.io/",
    "traefik.ingress.kubernetes.io/",
    "traefik.frontend.",
    "traefik.backend.",
    "traefik.",
)

OPEN = "the route would be served OPEN: do not apply it before adding the equivalent policy"

# What to use instead, by a word of the key (first match wins).
_INSTEAD: tuple[tuple[str, str], ...] = (
    ("snippet", "nginx configuration; write its effect as Gateway filters or an implementation policy"),
    (
        "auth-tls",
        "client certificates: the Gateway's listener TLS frontendValidation (Gateway API "
        "v1.3+ experimental) or an implementation policy",
    ),
    (
        "auth-url",
        "an ExternalAuth filter (Gateway API experimental, GEP-1494) or an implementation "
        "policy (Envoy Gateway SecurityPolicy extAuth, Traefik Middleware forwardAuth)",
    ),
    (
        "auth",
        "an implementation-specific authentication filter (ExtensionRef to e.g. a Traefik "
        "Middleware basicAuth or an Envoy Gateway SecurityPolicy)",
    ),
    (
        "source-range",
        "an implementation-specific IP allow/deny policy (e.g. Traefik Middleware "
        "ipAllowList, Envoy Gateway SecurityPolicy authorization)",
    ),
    ("whitelist", "an implementation-specific IP allow-list policy"),
    (
        "limit",
        "an implementation-specific rate-limit policy (e.g. Envoy Gateway BackendTrafficPolicy "
        "rateLimit, Traefik Middleware rateLimit)",
    ),
    ("rate", "an implementation-specific rate-limit policy"),
    ("middlewares", "the same Traefik Middlewares, attached with an ExtensionRef filter"),
    ("allowed-hosts", "HTTPRoute hostnames"),
)


def instead(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return next((hint for word, hint in _INSTEAD if word in name), "an implementation-specific policy")


def is_controller_key(key: str) -> bool:
    return key.startswith(CONTROLLER_PREFIXES)


def default_note(subject: str, key: str, where: str) -> Note:
    """The note for a controller annotation the converter did not carry over."""
    if protects(key):
        what = protection(key)
        about = f" ({what})" if what else ""
        return Note(
            NoteKind.UNPROTECTED,
            subject,
            key,
            f"protects the route{about}; needs {instead(key)}; not migrated: {OPEN}",
            where,
        )
    status = nginx_status(key)
    does = f" ({status.does})" if status is not None and status.does else ""
    return Note(
        NoteKind.LOST,
        subject,
        key,
        f"no Gateway API equivalent{does}; not migrated: decide whether the route can do without it, "
        "or use an implementation-specific policy",
        where,
    )
