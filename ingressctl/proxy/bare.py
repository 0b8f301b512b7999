"""Responses sent with exactly the headers given: aiohttp fills nothing in.

aiohttp adds `Content-Type: application/octet-stream` and `Server: Python/3.x aiohttp/3.x` to a
response that has none. On a relayed response a proxy must not: browsers sniff an untyped body (or
download typed-as-binary HTML instead of showing it), and a backend's choice not to name its
software is its own. On the proxy's own answers (errors, redirects) the Server header would only
tell scanners which Python and aiohttp versions run here (Traefik sends none either).
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web

_FILLED_IN: Final = (hdrs.CONTENT_TYPE, hdrs.SERVER)


class BareStream(web.StreamResponse):
    async def _prepare_headers(self) -> None:
        headers = self._headers
        absent = [name for name in _FILLED_IN if name not in headers]
        await super()._prepare_headers()
        for name in absent:
            headers.popall(name, None)


class BareResponse(BareStream, web.Response):
    """A whole body at once (web.Response), with BareStream's headers."""
