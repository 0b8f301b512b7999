"""Access log lines name router, service, upstream, status and duration."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest

from ingressctl.proxy import AccessLog

from .conftest import BackendFactory, ProxyFactory, route

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("fmt", ["common", "json"])
async def test_access_log_line(
    backend: BackendFactory, proxy_server: ProxyFactory, caplog: pytest.LogCaptureFixture, fmt: str
) -> None:
    b = await backend()
    p = await proxy_server([route("default/app#r0p0", [b.addr], host="app.test")], access_log=AccessLog(fmt))
    caplog.set_level(logging.INFO, "ingressctl.access")
    async with aiohttp.ClientSession() as s:
        async with s.get(p.url("/x?y=1"), headers={"Host": "app.test", "User-Agent": "agent/1"}) as r:
            body = await r.read()
        async with s.get(p.url("/"), headers={"Host": "nothing.test"}) as r:
            assert r.status == 404
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "ingressctl.access"]
    assert len(lines) == 2
    if fmt == "json":
        doc = json.loads(lines[0])
        assert doc["status"] == 200 and doc["method"] == "GET" and doc["target"] == "/x?y=1"
        assert doc["router"] == "default/app#r0p0"
        assert doc["service"] == "default/default/app#r0p0:80"
        assert doc["upstream"] == f"127.0.0.1:{b.port}"
        assert doc["size"] == len(body)
        assert doc["duration_ms"] >= 0
        assert json.loads(lines[1])["status"] == 404
    else:
        assert re.match(
            rf'127\.0\.0\.1 - - \[[^]]+\] "GET /x\?y=1 HTTP/1\.1" 200 {len(body)} "-" "agent/1" "web" '
            rf'"default/app#r0p0" "default/default/app#r0p0:80" "127\.0\.0\.1:{b.port}" [0-9.]+ms$',
            lines[0],
        ), lines[0]
        assert '" 404 ' in lines[1]
