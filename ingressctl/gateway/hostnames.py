"""Hostnames in the Gateway API: `*.example.com` matches any number of extra labels (not the bare
suffix), and a route serves, on a listener, the intersection of its hostnames with the listener's."""

from __future__ import annotations


def wildcard_covers(pattern: str, host: str) -> bool:
    """`*.example.com` covers a.example.com and a.b.example.com, not example.com; a wildcard host
    is covered when its own suffix is (`*.b.example.com` by `*.example.com`)."""
    if not pattern.startswith("*."):
        return pattern == host
    suffix = pattern[1:]  # ".example.com"
    if host.startswith("*."):
        return host[1:].endswith(suffix)
    return host.endswith(suffix) and len(host) > len(suffix)


def intersect(listener: str | None, route: tuple[str, ...]) -> tuple[str | None, ...]:
    """The hostnames a route serves on a listener; (None,) means any host; () means none."""
    if not route:
        return (listener,)
    if listener is None:
        return tuple(dict.fromkeys(route))
    out: list[str] = []
    for name in route:
        if name == listener or wildcard_covers(listener, name):
            out.append(name)  # the route is as or more specific
        elif wildcard_covers(name, listener):
            out.append(listener)  # the listener is more specific
    return tuple(dict.fromkeys(out))
