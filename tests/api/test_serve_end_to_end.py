"""The API and dashboard of a real `ingressctl serve` subprocess, proxying to a real backend."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.api.browser import Page

MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: {port}, protocol: TCP}}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {{ready: true}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: default}}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: {name}, port: {{name: http}}}}
"""

TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Serve:
    process: asyncio.subprocess.Process
    api: str  # "http://127.0.0.1:PORT"
    web: str
    session: aiohttp.ClientSession
    log: list[str]

    async def get(self, url: str, **kwargs: Any) -> tuple[int, str]:
        async with self.session.get(url, **kwargs) as response:
            return response.status, await response.text()

    async def json(self, path: str) -> Any:
        async with self.session.get(self.api + path) as response:
            assert response.status == 200
            return await response.json()


async def _read_addresses(process: asyncio.subprocess.Process, log: list[str]) -> tuple[str, str]:
    api = proxy = None
    assert process.stderr is not None
    while api is None or proxy is None:
        line = (await process.stderr.readline()).decode()
        if not line:
            raise RuntimeError("serve exited early:\n" + "".join(log))
        log.append(line)
        if m := re.search(r"API and dashboard on (http://[\d.]+:\d+)/", line):
            api = m.group(1)
        if m := re.search(r"listening: web=([\d.]+:\d+)", line):
            proxy = "http://" + m.group(1)
    return api, proxy


async def _drain(process: asyncio.subprocess.Process, log: list[str]) -> None:
    assert process.stderr is not None
    while line := await process.stderr.readline():
        log.append(line.decode())


@pytest.fixture
async def backend(aiohttp_server: Any) -> Any:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello from backend for {request.host}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    return await aiohttp_server(app)


@pytest.fixture
async def serve(tmp_path: Path, backend: Any) -> AsyncIterator[Serve]:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(
        MANIFEST.format(name="app", host="app.example.com", port=backend.port)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ingressctl", "serve", "--manifests", str(manifests),
        "--entrypoint", "web=127.0.0.1:0", "--api-address", "127.0.0.1:0",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    log: list[str] = []
    drain: asyncio.Task[None] | None = None
    try:
        api, proxy = await asyncio.wait_for(_read_addresses(process, log), timeout=20)
        drain = asyncio.ensure_future(_drain(process, log))
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            yield Serve(process, api, proxy, session, log)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            await asyncio.wait_for(drain, timeout=5)


async def wait_until_ready(s: Serve) -> None:
    for _ in range(100):
        status, _ = await s.get(s.api + "/ready")
        if status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("never ready:\n" + "".join(s.log))


async def test_api_metrics_and_dashboard_of_a_running_server(
    serve: Serve, page: Page, tmp_path: Path, backend: Any
) -> None:
    s = serve
    assert await s.get(s.api + "/ping") == (200, "OK")
    await wait_until_ready(s)

    routers = (await s.json("/api/routers"))["routers"]
    assert [(r["host"], r["status"]) for r in routers] == [("app.example.com", "enabled")]
    router_id = routers[0]["id"]
    services = (await s.json("/api/services"))["services"]
    assert [e["address"] for e in services[0]["endpoints"]] == [f"127.0.0.1:{backend.port}"]
    entrypoints = (await s.json("/api/entrypoints"))["entrypoints"]
    assert entrypoints[0]["address"] == s.web.removeprefix("http://")  # the bound port, not ":0"

    # Real requests through the proxy are counted per router and status code.
    for _ in range(3):
        status, body = await s.get(s.web + "/hello", headers={"Host": "app.example.com"})
        assert (status, body) == (200, "hello from backend for app.example.com")
    status, _ = await s.get(s.web + "/", headers={"Host": "nobody.example.com"})
    assert status == 404
    _, text = await s.get(s.api + "/metrics")
    counts = {
        (sample.labels.get("router"), sample.labels.get("code")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ingressctl_requests_total"
    }
    assert counts[(router_id, "200")] == 3
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["ingressctl_routes"].samples[0].value == 1
    reloads = {
        x.labels["result"]: x.value
        for x in families["ingressctl_config_reloads"].samples
        if x.name.endswith("_total")
    }
    assert reloads["success"] >= 1

    # The dashboard shows the router, then follows an edit of the manifests.
    await page.goto(s.api + "/dashboard/")
    await page.wait_for("[...document.querySelectorAll('#routers tr[data-router]')].length === 1")
    assert (
        await page.eval("document.querySelector('#routers tr[data-router] td.host').textContent")
        == "app.example.com"
    )
    (tmp_path / "manifests" / "shop.yaml").write_text(
        MANIFEST.format(name="shop", host="shop.example.com", port=backend.port)
    )
    hosts = await page.wait_for(
        "(h => h.includes('shop.example.com') && h)"
        "([...document.querySelectorAll('#routers td.host')].map(td => td.textContent))",
        timeout=15,
    )
    assert sorted(hosts) == ["app.example.com", "shop.example.com"]
    assert len((await s.json("/api/routers"))["routers"]) == 2
    assert page.console_errors == []
