"""What becomes of each ingress-nginx annotation under ingressctl: supported, changes, lost or refused.

One registry for `validate --from ingress-nginx`, the README's support table (`make docs`) and the
migration tooling. The status is read from the code, never written by hand: an annotation is
"supported" only when it is in KNOWN_ANNOTATIONS (the keys the compiler parses), "refused" when
routing/refusals.py fails its routes closed, "lost" otherwise (served without it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ingressctl.routing.annotations import KNOWN_ANNOTATIONS
from ingressctl.routing.misspelt import nearest_key, protects
from ingressctl.routing.nginx_catalog import DIFFERENCES, NGINX_ANNOTATIONS, PREFIX
from ingressctl.routing.refusals import is_snippet, protection


class Status(StrEnum):
    SUPPORTED = "supported"  # carried over with ingress-nginx's documented behaviour
    CHANGES = "changes"  # carried over, with a difference spelled out
    LOST = "lost"  # served without it (a warning)
    REFUSED = "refused"  # the routes answer 503 (fail closed) and validate reports an error
    UNKNOWN = "unknown"  # not an ingress-nginx annotation (a typo)


@dataclass(frozen=True, slots=True)
class AnnotationStatus:
    key: str
    status: Status
    does: str  # what it does in ingress-nginx
    detail: str  # what ingressctl does with it


def nginx_status(key: str) -> AnnotationStatus | None:
    """The status of an ingress-nginx annotation key; None for keys outside its prefix."""
    if not key.startswith(PREFIX):
        return None
    name = key[len(PREFIX) :]
    does = NGINX_ANNOTATIONS.get(name, "")
    known = KNOWN_ANNOTATIONS.get(key)
    if known is not None:
        difference = DIFFERENCES.get(name)
        if difference:
            return AnnotationStatus(key, Status.CHANGES, does, f"{known} Difference: {difference}.")
        return AnnotationStatus(key, Status.SUPPORTED, does, known)
    if is_snippet(key):
        return AnnotationStatus(
            key,
            Status.REFUSED,
            does,
            "nginx configuration is never executed: the routes answer 503 (served without it with "
            "--ignore-snippets); validate names what it did and the annotation to use instead.",
        )
    what = protection(key)
    if what is not None:
        return AnnotationStatus(
            key,
            Status.REFUSED,
            does,
            f"protects the routes ({what}) and is not implemented: they answer 503.",
        )
    if not does:
        meant = nearest_key(key, [PREFIX + n for n in NGINX_ANNOTATIONS])
        if meant is not None and protects(meant):
            return AnnotationStatus(
                key,
                Status.REFUSED,
                "",
                f"not an ingress-nginx key, but close to {meant}: the routes answer 503.",
            )
        hint = f"; did you mean {meant}?" if meant else ""
        return AnnotationStatus(key, Status.UNKNOWN, "", f"not an ingress-nginx annotation{hint}")
    return AnnotationStatus(key, Status.LOST, does, f"not implemented: served without it ({does} is lost).")


def all_statuses() -> list[AnnotationStatus]:
    """Every ingress-nginx annotation, in name order (the README's support table)."""
    found = [nginx_status(PREFIX + name) for name in sorted(NGINX_ANNOTATIONS)]
    return [s for s in found if s is not None]
