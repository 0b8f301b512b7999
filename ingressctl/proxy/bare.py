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
# Request state key: headers a route's middleware (CORS) sets on whatever answer the request gets,
# over the upstream's own (as nginx's more_set_headers), set when the answer's head is written.
ANSWER_HEADERS: Final = "ingressctl.answer_headers"


class BareStream(web.StreamResponse):
    async def _prepare_headers(self) -> None:
        headers = self._headers
        absent = [name for name in _FILLED_IN if name not in headers]
        await super()._prepare_headers()
        for name in absent:
            headers.popall(name, None)
        request = self._req
        # Mapping.get on a request that lacks the key raises and catches a KeyError (about 1.5 µs);
        # most requests carry no state at all.
        extra = request.get(ANSWER_HEADERS) if request is not None and len(request) else None
        if extra:
            for name, value in extra:
                headers[name] = value


class BareResponse(BareStream, web.Response):
    """A whole body at once (web.Response), with BareStream's headers."""
