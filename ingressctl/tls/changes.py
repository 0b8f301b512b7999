"""What a reload changed in the Ingress TLS Secrets, for the one-line "configuration applied" summary.

A rotated certificate changes no route, so a summary of the routes alone says "no change" exactly
when an operator wants to see that the new certificate was taken. Kept free of cryptography: the
watch loop imports it even when no entrypoint uses TLS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ingressctl.model import TLSCertificate

# "serial 3f2a…, expires 2027-01-25" or "not served: tls.crt is …" for an origin ("" when unknown).
Status = Callable[[str], str]


def _pairs(certificates: Iterable[TLSCertificate]) -> dict[str, frozenset[tuple[bytes, bytes]]]:
    """The PEM pairs of each Secret (one Secret may be named by several Ingresses)."""
    out: dict[str, set[tuple[bytes, bytes]]] = {}
    for c in certificates:
        out.setdefault(str(c.secret), set()).add((c.cert_pem, c.key_pem))
    return {origin: frozenset(pairs) for origin, pairs in out.items()}


def summarize_certificates(
    old: Sequence[TLSCertificate] | None,
    new: Sequence[TLSCertificate],
    status: Status | None = None,
    limit: int = 5,
) -> str:
    """`certificates 3 (+1 -0 ~1); certificate added: Secret a/b (…); certificate changed: …`, or ""
    when no Secret was added, removed or given another certificate or key (`old` None: all added).

    Only the PEM content counts: the hosts an Ingress claims for a Secret are route changes.
    """
    before = _pairs(old or ())
    after = _pairs(new)
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
    if not (added or removed or changed):
        return ""
    line = f"certificates {len(after)} (+{len(added)} -{len(removed)} ~{len(changed)})"
    for label, origins, described in (
        ("added", added, True),
        ("removed", removed, False),
        ("changed", changed, True),
    ):
        if origins:
            line += f"; certificate {label}: {_listed(origins, status if described else None, limit)}"
    return line


def _listed(origins: Sequence[str], status: Status | None, limit: int) -> str:
    shown = []
    for origin in origins[:limit]:
        detail = status(origin) if status is not None else ""
        shown.append(f"{origin} ({detail})" if detail else origin)
    more = f" and {len(origins) - limit} more" if len(origins) > limit else ""
    return ", ".join(shown) + more
