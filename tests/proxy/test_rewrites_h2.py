"""The route's header edits with an HTTP/2 (h2c) backend: request headers reach it, response headers
and the security headers reach the client (proxy/forward_h2.py runs the response filters)."""

from __future__ import annotations

import aiohttp
import pytest

from .conftest import ProxyFactory
from .h2_backend import start_h2_backend
from .test_h2_upstream import compiled

pytestmark = pytest.mark.timeout(60)


async def test_header_edits_with_an_h2c_backend(proxy_server: ProxyFactory) -> None:
    backend = await start_h2_backend()
    try:
        annotations = {
            "ingress.kubernetes.io/custom-request-headers": "X-Env: prod",
            "ingress.kubernetes.io/custom-response-headers": "X-Served-By: ingressctl",
            "ingress.kubernetes.io/frame-deny": "true",
        }
        [r] = compiled(backend.port, annotations=annotations)
        assert r.backend.scheme == "h2c"
        p = await proxy_server([r])
        async with aiohttp.ClientSession() as s:
            async with s.get(p.url("/echo"), headers={"Host": "shop.test"}) as resp:
                assert resp.status == 200
                assert resp.headers["X-Served-By"] == "ingressctl"
                assert resp.headers["X-Frame-Options"] == "DENY"
                assert (await resp.json())["headers"]["x-env"] == "prod"
            async with s.get(p.url("/big/300000"), headers={"Host": "shop.test"}) as resp:  # streamed
                assert resp.headers["X-Served-By"] == "ingressctl" and len(await resp.read()) == 300000
    finally:
        assert backend.server is not None
        backend.server.close()
