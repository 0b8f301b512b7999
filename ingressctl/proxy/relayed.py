"""Responses relayed from an upstream: sent with the upstream's headers, nothing added.

aiohttp fills in `Content-Type: application/octet-stream` and its own `Server` header when a response
has none. A proxy must not: browsers sniff an untyped body (and download typed-as-binary HTML
instead of showing it), and the backend's choice not to name its software is its own.
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web

_FILLED_IN: Final = (hdrs.CONTENT_TYPE, hdrs.SERVER)


class RelayedStream(web.StreamResponse):
    async def _prepare_headers(self) -> None:
        headers = self._headers
        absent = [name for name in _FILLED_IN if name not in headers]
        await super()._prepare_headers()
        for name in absent:
            headers.popall(name, None)


class RelayedComplete(RelayedStream, web.Response):
    """A whole body at once (web.Response), with RelayedStream's headers."""
