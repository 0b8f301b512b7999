"""Host names as TLS sees them: normalised SNI values and certificate name coverage."""

from __future__ import annotations

from collections.abc import Iterable


def normalize(name: str | None) -> str:
    """Lower case, no trailing dot, no port (for Host headers); "" for None."""
    if not name:
        return ""
    name = name.strip().lower()
    if name.startswith("["):  # an IPv6 literal with or without a port
        return name[: name.find("]") + 1]
    if name.count(":") == 1:
        name = name.split(":", 1)[0]
    return name.rstrip(".")


def parent(name: str) -> str | None:
    """The domain a one-label wildcard for `name` would cover: "a.example.com" -> "example.com"."""
    _, dot, rest = name.partition(".")
    return rest if dot and rest else None


def covers(names: Iterable[str], host: str) -> bool:
    """True when a certificate valid for `names` is valid for `host` (wildcards cover one label)."""
    host = normalize(host)
    if not host:
        return False
    pool = names if isinstance(names, set | frozenset) else set(names)
    domain = parent(host)
    return host in pool or (domain is not None and "*." + domain in pool)
