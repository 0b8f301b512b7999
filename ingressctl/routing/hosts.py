"""Host names: validation of declared hosts and normalisation of request Host headers."""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Without a ':' only a dotted IPv4 address can parse as an IP address: everything else skips the
# parse (ipaddress raises and catches twice per DNS name, a third of the cost of compiling a rule).
_MAYBE_IPV4 = re.compile(r"[0-9.]+")
# The usual valid host in one match: not digits and dots only (those may be an IPv4 address), an
# optional leading `*.` and lower-case RFC 1123 labels. A host that does not match (or is longer than
# 253 characters) takes the checks below, which say what is wrong (some valid hosts take them too).
_PLAIN_VALID = re.compile(
    r"(?![0-9.]+\Z)(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 address as written (callers that accept `[::1]` strip the brackets first)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def validate_host(host: str) -> str | None:
    """Return why `host` is not a valid Ingress host (RFC 1123 name or `*.` wildcard), or None."""
    if len(host) <= 253 and _PLAIN_VALID.fullmatch(host) is not None:
        return None
    return _why_invalid(host)


def _why_invalid(host: str) -> str | None:
    """validate_host without its shortcut: every check in turn."""
    if not host:
        return "the host is empty (leave `host` out to match every host)"
    if host == "*":
        return "`*` alone is not a host (leave `host` out to match every host)"
    if ":" in host and not host.startswith("*"):
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return f"{host!r} contains ':' (a port is not part of the host)"
        return f"{host!r} is an IP address; an Ingress host must be a DNS name"
    if host.endswith("."):
        return f"{host!r} ends with a dot; write it without the trailing dot"
    if len(host) > 253:
        return f"{host!r} is longer than 253 characters"
    labels = host.lower().split(".")
    if labels[0] == "*":
        if len(labels) < 2:
            return "a wildcard needs a domain after `*.`"
        labels = labels[1:]
    elif "*" in host:
        return f"{host!r}: a wildcard is allowed only as the whole leftmost label (`*.example.com`)"
    if _MAYBE_IPV4.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return f"{host!r} is an IP address; an Ingress host must be a DNS name"
    for label in labels:
        if not label:
            return f"{host!r} has an empty label (two dots in a row)"
        if len(label) > 63:
            return f"{host!r}: the label {label[:20]!r}... is longer than 63 characters"
        if not _LABEL.match(label):
            return (
                f"{host!r}: the label {label!r} may hold only letters, digits and '-', "
                "and must start and end with a letter or digit"
            )
    return None


def normalize_request_host(host: str) -> str:
    """Host header → lookup key: port and trailing dot removed, lower-case; IPv6 brackets removed."""
    if host.startswith("["):
        end = host.find("]")
        host = host[1:end] if end != -1 else host[1:]
    elif ":" in host and host.count(":") == 1:
        host = host.partition(":")[0]
    if host.endswith("."):
        host = host.rstrip(".")
    return host.lower()


def wildcard_suffix(host: str) -> str | None:
    """The part a `*.` wildcard is indexed by: `a.example.com` → `example.com`; None without a dot."""
    first, dot, rest = host.partition(".")
    if not dot or not first or not rest:
        return None
    return rest


def tls_host_covers(tls_host: str, host: str) -> bool:
    """Whether a host listed under spec.tls (maybe a wildcard) covers a rule host."""
    if tls_host == host:
        return True
    if tls_host.startswith("*.") and not host.startswith("*."):
        return wildcard_suffix(host) == tls_host[2:]
    return False
