"""IC302 (typos under the prefixes ingressctl reads) and IC307 (other controllers' annotations).

Annotations that ask for a protection ingressctl lacks are the compiler's (IC220, the route fails
closed, routing/refusals.py): they are not reported here a second time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from itertools import takewhile

from ingressctl.checks.context import LintContext
from ingressctl.model import Diagnostic, Ingress, Location, Severity
from ingressctl.routing import ANNOTATION_PREFIXES, KNOWN_ANNOTATIONS
from ingressctl.routing.misspelt import meant_protection
from ingressctl.routing.nginx_catalog import NGINX_ANNOTATIONS
from ingressctl.routing.nginx_catalog import PREFIX as NGINX
from ingressctl.routing.refusals import protection, unsupported_traefik

_NGINX_KEYS = frozenset(NGINX + name for name in NGINX_ANNOTATIONS)

# Annotation prefixes of other ingress controllers: on an Ingress we serve they silently do nothing.
FOREIGN_PREFIXES: tuple[tuple[str, str], ...] = (
    ("nginx.ingress.kubernetes.io/", "ingress-nginx"),
    ("nginx.org/", "NGINX Inc. ingress controller"),
    ("haproxy.org/", "HAProxy ingress"),
    ("haproxy-ingress.github.io/", "HAProxy ingress"),
    ("alb.ingress.kubernetes.io/", "AWS Load Balancer Controller"),
    ("konghq.com/", "Kong"),
    ("projectcontour.io/", "Contour"),
    ("traefik.io/", "Traefik v2+ CRDs"),
)

# ingress-nginx keys whose effect ingressctl offers under another name.
_NGINX_EQUIVALENTS = {
    "whitelist-source-range": "ingress.kubernetes.io/whitelist-source-range",
    "auth-type": "ingress.kubernetes.io/auth-type",
    "auth-secret": "ingress.kubernetes.io/auth-secret",
    "auth-realm": "ingress.kubernetes.io/auth-realm",
}


def _annotation_location(ingress: Ingress, key: str) -> Location | None:
    return ingress.meta.annotation_locations.get(key, ingress.meta.location)


def _differing_tail(key: str, candidate: str) -> tuple[str, str]:
    """Both keys without their common prefix, cut back to the last `/` or `.` they share.

    Known keys share long prefixes, so comparing whole keys finds everything similar; comparing
    what differs (`auth-typ` vs `auth-type`) finds the key that was meant.
    """
    shared = sum(1 for _ in takewhile(lambda pair: pair[0] == pair[1], zip(key, candidate, strict=False)))
    common = key[:shared]
    cut = max(common.rfind("/"), common.rfind(".")) + 1
    return key[cut:], candidate[cut:]


def nearest_known(key: str, known: Iterable[str] = KNOWN_ANNOTATIONS) -> str | None:
    """The known annotation key closest to `key`, or None when nothing is close."""
    best: tuple[float, str] | None = None
    for candidate in sorted(known):
        mine, theirs = _differing_tail(key, candidate)
        score = difflib.SequenceMatcher(None, mine, theirs).ratio()
        if score >= 0.75 and (best is None or score > best[0]):
            best = (score, candidate)
    return best[1] if best else None


def check_unknown_annotations(ctx: LintContext) -> Iterator[Diagnostic]:
    known = set(KNOWN_ANNOTATIONS)
    real = known | _NGINX_KEYS
    prefixes = tuple(ANNOTATION_PREFIXES)
    for ingress in ctx.served_ingresses():
        for key in sorted(ingress.meta.annotations):
            if key in real or not key.startswith(prefixes) or protection(key) is not None:
                continue
            if unsupported_traefik(key):
                continue  # a real Traefik key, not a typo: IC307
            if meant_protection(key, known) is not None:
                continue  # a misspelt protection: the compiler's IC220 error (routing/misspelt.py)
            suggestion = nearest_known(key, real)
            hint = (
                f"did you mean {suggestion}?"
                if suggestion
                else "see the README's list of supported annotations"
            )
            yield Diagnostic(
                code="IC302",
                severity=Severity.WARNING,
                message=f"{ingress.ref}: unknown annotation {key}; ingressctl ignores it",
                location=_annotation_location(ingress, key),
                hint=hint,
                object=ingress.ref,
            )


def check_foreign_annotations(ctx: LintContext) -> Iterator[Diagnostic]:
    known = set(KNOWN_ANNOTATIONS)
    for ingress in ctx.served_ingresses():
        for key in sorted(ingress.meta.annotations):
            if key in known:
                continue  # another controller's spelling that ingressctl implements
            owner = next((name for prefix, name in FOREIGN_PREFIXES if key.startswith(prefix)), None)
            if owner is None and unsupported_traefik(key):
                owner = "Traefik"
            if owner is None or key in known or protection(key) is not None:
                continue
            if key.startswith(NGINX) and key not in _NGINX_KEYS:
                continue  # not a real ingress-nginx key: a typo (IC302)
            equivalent = None
            if key.startswith("nginx.ingress.kubernetes.io/"):
                equivalent = _NGINX_EQUIVALENTS.get(key.rsplit("/", 1)[-1])
            if equivalent is not None and equivalent in known:
                hint = f"use {equivalent} instead"
            elif owner == "Traefik":
                hint = "remove it, or see the README's list of supported annotations"
            else:
                hint = "remove it, or give the Ingress the class of the controller it was written for"
            yield Diagnostic(
                code="IC307",
                severity=Severity.WARNING,
                message=f"{ingress.ref}: annotation {key} ({_owner_says(owner, key)}) is not supported by "
                "ingressctl; served without it",
                location=_annotation_location(ingress, key),
                hint=hint,
                object=ingress.ref,
            )


def _owner_says(owner: str, key: str) -> str:
    """The controller, and for ingress-nginx what the annotation does there (what is lost)."""
    what = NGINX_ANNOTATIONS.get(key[len(NGINX) :]) if key.startswith(NGINX) else None
    return f"{owner}: {what}" if what else owner
