"""What a request asks for: its Host, and the target in origin form (RFC 9112 3.2)."""

from __future__ import annotations

import re
from typing import Final

# uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): a reg-name or IPv4 address, or an IP
# literal in brackets. Anything else (spaces, a second host after a comma, a port that is not a
# number) is answered 400 rather than routed on a guess.
_HOST: Final = re.compile(
    r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*(?::[0-9]{0,5})?"
    r"|\[[0-9A-Fa-f:.]+\](?::[0-9]{0,5})?"
)
_ABSOLUTE: Final = re.compile(r"(?i:https?)://([^/?#]*)(.*)", re.DOTALL)


# Hosts already found valid (a handful in practice): a dict lookup instead of a regex match per
# request. Only valid ones are kept, and at most _VALID_KEPT, so clients cannot grow it.
_valid: set[str] = set()
_VALID_KEPT: Final = 1024


def valid_host(host: str) -> bool:
    if host in _valid:
        return True
    if _HOST.fullmatch(host) is None:
        return False
    if len(_valid) >= _VALID_KEPT:
        _valid.clear()
    _valid.add(host)
    return True


def origin_form(raw_target: str) -> tuple[str, str] | None:
    """For an absolute-form target (`http://host/path?q`, as sent to a forward proxy): its authority
    and its target in origin form. None for anything else that is not origin form."""
    found = _ABSOLUTE.fullmatch(raw_target)
    if found is None:
        return None
    authority, rest = found.groups()
    if not authority or "@" in authority:  # userinfo is not allowed in http(s) targets (RFC 9110 4.2.4)
        return None
    if not rest.startswith("/"):
        rest = "/" + rest
    return authority, rest
