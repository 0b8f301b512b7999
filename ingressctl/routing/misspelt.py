"""A misspelt key of an annotation that protects something fails closed.

`nginx.ingress.kubernetes.io/auth-typ` or `ingress.kubernetes.io/whitelist-source-rang` is not a
key any controller reads: served as it is, the route would be open to everyone although its
author asked for a protection. When the nearest real key protects something (authentication,
allow-lists, client certificates, rate limits, snippets), the route answers 503 and `validate`
reports an error naming the key that was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from itertools import takewhile

from ingressctl.model import Diagnostic, Ingress, Severity
from ingressctl.routing import codes
from ingressctl.routing.nginx_catalog import NGINX_ANNOTATIONS
from ingressctl.routing.nginx_catalog import PREFIX as NGINX
from ingressctl.routing.refusals import protection, unsupported_traefik
from ingressctl.routing.report import annotation_location, finding

# Key prefixes whose keys are read by some controller (a key under one of them that no controller
# reads is a typo).
_READ_PREFIXES = (NGINX, "ingress.kubernetes.io/", "traefik.ingress.kubernetes.io/", "traefik.frontend.")
# Words of keys that protect something, for ingressctl's own keys (protection() covers the others).
_PROTECTIVE_WORDS = ("auth", "whitelist", "allowlist", "denylist", "source-range", "limit", "snippet")

_NGINX_KEYS = tuple(NGINX + name for name in NGINX_ANNOTATIONS)
_NGINX_KEY_SET = frozenset(_NGINX_KEYS)


def protects(key: str) -> bool:
    """True when the real annotation `key` asks for a protection."""
    if protection(key) is not None:
        return True
    name = key.rsplit("/", 1)[-1]
    return any(word in name for word in _PROTECTIVE_WORDS)


def _differing_tail(key: str, candidate: str) -> tuple[str, str]:
    shared = sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], zip(key, candidate, strict=False)))
    common = key[:shared]
    cut = max(common.rfind("/"), common.rfind(".")) + 1
    return key[cut:], candidate[cut:]


def nearest_key(key: str, known: Iterable[str]) -> str | None:
    """The real key closest to `key` (what was probably meant), or None when nothing is close."""
    best: tuple[float, str] | None = None
    for candidate in sorted(known):
        mine, theirs = _differing_tail(key, candidate)
        score = difflib.SequenceMatcher(None, mine, theirs).ratio()
        if score >= 0.75 and (best is None or score > best[0]):
            best = (score, candidate)
    return best[1] if best else None


def _namespace(key: str) -> str:
    slash = key.rfind("/")
    return key[: slash + 1] if slash >= 0 else key[: key.find(".", key.find(".") + 1) + 1]


def meant_protection(key: str, known: Iterable[str]) -> str | None:
    """The protecting key `key` is probably a typo of (same prefix, close spelling), or None.
    `known`: the keys ingressctl implements; ingress-nginx's own keys are added."""
    real = set(known) | set(_NGINX_KEYS)
    if key in real or not key.startswith(_READ_PREFIXES):
        return None
    if protection(key) is not None or unsupported_traefik(key):
        return None  # a real key of another controller (or a family refused anyway)
    namespace = _namespace(key)
    meant = nearest_key(key, [k for k in real if _namespace(k) == namespace])
    return meant if meant is not None and protects(meant) else None


def misspelt_protections(ingress: Ingress, known: Collection[str]) -> tuple[list[str], list[Diagnostic]]:
    """The keys of `ingress` that no controller reads but that are near a protecting key, and the
    error findings for them. `known`: the keys ingressctl implements."""
    keys: list[str] = []
    found: list[Diagnostic] = []
    for key in sorted(ingress.meta.annotations):
        # meant_protection's own first test, without building its set of real keys for every key of
        # every Ingress: nearly all keys are real ones or under no prefix a controller reads.
        if key in known or key in _NGINX_KEY_SET or not key.startswith(_READ_PREFIXES):
            continue
        meant = meant_protection(key, known)
        if meant is None:
            continue
        keys.append(key)
        found.append(
            finding(
                codes.UNSUPPORTED_PROTECTION,
                Severity.ERROR,
                ingress,
                f"annotation {key} is not a key any controller reads, but is close to {meant}, which "
                "protects the routes; every route of this Ingress answers 503 rather than serve them "
                "without that protection",
                f"Did you mean {meant}? Fix the key, or remove it.",
                annotation_location(ingress, key),
            )
        )
    return keys, found
