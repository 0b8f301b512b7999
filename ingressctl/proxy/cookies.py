"""One cookie of a request, as `request.cookies.get(name)` gives it, without parsing them all.

aiohttp's `request.cookies` builds a Morsel per cookie through a regex that handles quoted values,
dates and malformed pairs (about 20 µs for a browser's header): too much for a sticky-session lookup
on every request. Browsers send the plain form `a=1; b=2` of RFC 6265 5.4, where every name is a
token and every value cookie-octets (no quote, comma, semicolon, backslash or white space). On such
a header aiohttp's parser can only split at `;`, strip the spaces after it and cut each pair at its
first `=`, with the last of a repeated name winning: that is done here. Any other header goes to
aiohttp's parser, so the answer is the same for every header.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp.web_request import BaseRequest

_TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_OCTETS: Final = r"[!#$%&'()*+\-./0-9:<=>?@A-Z\[\]^_`a-z{|}~]*"
_PLAIN_HEADER: Final = re.compile(f"{_TOKEN}={_OCTETS}(?:; *{_TOKEN}={_OCTETS})*")


_TOKEN_NAME: Final = re.compile(_TOKEN)
# name -> "name=" for the names that are tokens (the only ones the plain form can hold)
_prefixes: dict[str, str | None] = {}
# A Cookie header that is one `name=value` of the shortcut below (a pinned client's sticky cookie
# alone) -> (name, value): a keep-alive client's next request is one look-up. Only such headers
# are kept (the value the proxy itself set, nothing of the application's cookies), and at most
# _SINGLE_KEPT of them (then the table starts again).
_single: dict[str, tuple[str, str]] = {}
_SINGLE_KEPT: Final = 1024


def request_cookie(request: BaseRequest, name: str) -> str | None:
    """The value of cookie `name` in the request's Cookie header, None when it has none."""
    header = request.headers.get("Cookie", "")
    if not header:
        return None
    known = _single.get(header)
    if known is not None and known[0] == name:
        return known[1]
    prefix = _prefixes.get(name, "")
    if prefix == "":
        prefix = name + "=" if _TOKEN_NAME.fullmatch(name) else None
        if len(_prefixes) < 64:
            _prefixes[name] = prefix
    if prefix is not None and header.startswith(prefix):
        # A client holding this one cookie (a pinned client without others): `name=value` with
        # an alphanumeric value is the plain form, and its one pair; no regex needed.
        value = header[len(prefix) :]
        if value.isalnum() and value.isascii():
            if len(_single) >= _SINGLE_KEPT:
                _single.clear()
            _single[header] = (name, value)
            return value
    if _PLAIN_HEADER.fullmatch(header) is None:
        return request.cookies.get(name)
    if name + "=" not in header:
        return None
    found: str | None = None
    for pair in header.split(";"):
        key, _, value = pair.lstrip(" ").partition("=")
        if key == name:
            found = value
    return found
