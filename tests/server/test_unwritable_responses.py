"""A response that cannot be written as built (aiohttp refuses a header value with CR or LF) ends
that request with a 500 and one log line, not a traceback and a dropped connection per request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ingressctl.model.config import EntryPoint, EntryPointAuth, StaticConfig
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from tests.support.manifests import write_apps

pytestmark = pytest.mark.timeout(30)


async def _get(host: str, port: int, extra: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n" + extra + b"\r\n")
        return await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()


async def test_a_header_aiohttp_refuses_is_a_500_with_one_log_line(
    tmp_path: Path, echo_backend: Callable[..., Awaitable[int]], caplog: pytest.LogCaptureFixture
) -> None:
    port = await echo_backend("a")
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("a", "a.test", "/", port)])
    sha = base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
    # Built as a model value (past any validation of the file): the realm ends up in WWW-Authenticate.
    auth = EntryPointAuth(realm="evil\r\nSet-Cookie: x=1", users=(("user", "{SHA}" + sha),))
    static = StaticConfig(
        entrypoints=(EntryPoint("web", "127.0.0.1:0", auth=auth),), manifests=(str(manifests),)
    )
    server = Server(static, ServerParts(providers=[ManifestsProvider([str(manifests)])]))
    caplog.set_level(logging.INFO)
    await server.start()
    try:
        host, _, bound = server.state.bound["web"].rpartition(":")
        deadline = asyncio.get_running_loop().time() + 20
        while server.proxy.plan is None:  # the first table is being compiled
            assert asyncio.get_running_loop().time() < deadline, "no configuration applied"
            await asyncio.sleep(0.05)
        for _ in range(3):
            response = await _get(host, int(bound))
            assert response.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), response
            assert b"Set-Cookie" not in response
        # The credentials pass: no challenge to write, the request is proxied as usual.
        token = base64.b64encode(b"user:pw")
        ok = await _get(host, int(bound), b"Authorization: Basic " + token + b"\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK"), ok
    finally:
        await server.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().split(": ")[0] for r in errors] == [
        "500 while writing the response to GET a.test/x from 127.0.0.1"
    ] * 3
    assert all(r.exc_info is None for r in errors)
    assert "Traceback" not in caplog.text
