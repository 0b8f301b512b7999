"""The API and dashboard of a real `ingressctl serve` subprocess, proxying to a real backend."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import re
import signal
import socket
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
from tests.api.conftest import APR1_HASH, SECRET_MARKERS
from tests.certificates import self_signed

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
BIG = bytes(range(256)) * 8192  # 2 MiB: large enough to be spliced


@dataclass
class Serve:
    process: asyncio.subprocess.Process
    api: str  # "http://127.0.0.1:PORT"
    web: str
    session: aiohttp.ClientSession
    log: list[str]  # stderr: the process log
    out: list[str]  # stdout: the access log

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
        if m := re.search(r"listening: .*\bweb=([\d.]+:\d+)", line):
            proxy = "http://" + m.group(1)
    return api, proxy


async def _drain(stream: asyncio.StreamReader | None, lines: list[str]) -> None:
    assert stream is not None
    while line := await stream.readline():
        lines.append(line.decode())


@pytest.fixture
async def backend(aiohttp_server: Any) -> Any:
    async def hello(request: web.Request) -> web.Response:
        if request.path == "/big":
            return web.Response(body=BIG)
        return web.Response(text=f"hello from backend for {request.host}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    return await aiohttp_server(app)


@contextlib.asynccontextmanager
async def run_serve(*args: str) -> AsyncIterator[Serve]:
    """`ingressctl serve ARGS` with the proxy and API on free loopback ports; stopped with SIGTERM."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ingressctl", "serve", "--entrypoint", "web=127.0.0.1:0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    log: list[str] = []
    out: list[str] = []
    drains = [asyncio.ensure_future(_drain(process.stdout, out))]
    try:
        api, proxy = await asyncio.wait_for(_read_addresses(process, log), timeout=20)
        drains.append(asyncio.ensure_future(_drain(process.stderr, log)))
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            yield Serve(process, api, proxy, session, log, out)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=15)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.wait_for(asyncio.gather(*drains), timeout=5)


@pytest.fixture
async def serve(tmp_path: Path, backend: Any) -> AsyncIterator[Serve]:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(
        MANIFEST.format(name="app", host="app.example.com", port=backend.port)
    )
    async with run_serve("--manifests", str(manifests), "--api-address", "127.0.0.1:0") as running:
        yield running


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
    async with s.session.get(s.web + "/big", headers={"Host": "app.example.com"}) as response:
        assert await response.read() == BIG
    _, text = await s.get(s.api + "/metrics")
    counts = {
        (sample.labels.get("router"), sample.labels.get("code")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ingressctl_requests_total"
    }
    assert counts[(router_id, "200")] == 4
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # Most of the large body went from the backend's socket to ours without passing through Python.
    assert families["ingressctl_response_bytes_spliced"].samples[0].value >= len(BIG) // 2
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


TLS_MANIFEST = """\
apiVersion: v1
kind: Secret
metadata: {{name: shop-tls, namespace: default}}
type: kubernetes.io/tls
data:
  tls.crt: {crt}
  tls.key: {key}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: shop-tls, namespace: default}}
spec:
  tls:
  - hosts: [shop.example.com]
    secretName: shop-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: shop, port: {{name: http}}}}
"""


async def test_auth_certificates_and_json_logs_of_a_running_server(tmp_path: Path, backend: Any) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "shop.yaml").write_text(
        MANIFEST.format(name="shop", host="shop.example.com", port=backend.port)
    )
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    (manifests / "dead.yaml").write_text(
        MANIFEST.format(name="dead", host="dead.example.com", port=dead_port)
    )
    crt, key = self_signed(
        "shop.example.com",
        names=["shop.example.com", "www.shop.example.com"],
        issuer="End-to-end Test CA",
        days=45,
        not_before=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1),
    )
    (manifests / "tls.yaml").write_text(
        TLS_MANIFEST.format(crt=base64.b64encode(crt).decode(), key=base64.b64encode(key).decode())
    )
    config = tmp_path / "traefik.toml"
    config.write_text(
        f"""\
[entryPoints.websecure]
address = "127.0.0.1:0"
  [entryPoints.websecure.tls]

[api]
address = "127.0.0.1:0"
  [api.auth.basic]
  users = ["admin:{APR1_HASH}"]
"""
    )
    args = (
        "-c",
        str(config),
        "--manifests",
        str(manifests),
        "--log-format",
        "json",
        "--access-log-format",
        "json",
    )
    async with run_serve(*args) as s:
        assert await s.get(s.api + "/ping") == (200, "OK")
        await wait_until_ready(s)
        status, _ = await s.get(s.api + "/api/overview")
        assert status == 401
        auth = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
        async with s.session.get(s.api + "/api/certificates", headers=auth) as response:
            assert response.status == 200
            certificates = (await response.json())["certificates"]
        shop = next(c for c in certificates if c["main"] == "shop.example.com")
        assert shop["sans"] == ["www.shop.example.com"]
        assert shop["issuer"] == "CN=End-to-end Test CA"
        assert shop["source"] == "secret"
        assert 44 <= shop["days_left"] <= 45
        assert (await s.get(s.web + "/x", headers={"Host": "shop.example.com"}))[0] == 200

        paths = ["/api/overview", "/api/routers", "/api/services", "/api/certificates", "/api/diagnostics",
                 "/api/entrypoints", "/api/rawdata", "/metrics", "/dashboard/"]  # fmt: skip
        for path in paths:
            async with s.session.get(s.api + path, headers=auth) as response:
                assert response.status == 200, path
                body = await response.text()
            for marker in (*SECRET_MARKERS, key.decode().splitlines()[1]):
                assert marker not in body, f"{marker!r} in {path}"
        async with s.session.get(s.api + "/metrics", headers=auth) as response:
            text = await response.text()
        async with s.session.get(s.api + "/api/routers", headers=auth) as response:
            router_id = next(
                r["id"] for r in (await response.json())["routers"] if r["host"] == "shop.example.com"
            )

        # An endpoint that refuses connections: 502, counted, and listed for the dashboard.
        assert (await s.get(s.web + "/", headers={"Host": "dead.example.com"}))[0] == 502
        async with s.session.get(s.api + "/api/upstreams", headers=auth) as response:
            upstreams = (await response.json())["upstreams"]
        assert [(u["address"], u["last_failure_kind"]) for u in upstreams] == [
            (f"127.0.0.1:{dead_port}", "connect")
        ]
        async with s.session.get(s.api + "/metrics", headers=auth) as response:
            errors = [
                sample
                for family in text_string_to_metric_families(await response.text())
                for sample in family.samples
                if sample.name == "ingressctl_upstream_errors_total"
            ]
        assert [(e.labels["kind"], e.value) for e in errors] == [("connect", 1.0)]
        expiry = {
            sample.labels["names"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "ingressctl_certificate_expiry_seconds"
        }
        assert 44 * 86400 < expiry["shop.example.com,www.shop.example.com"] <= 45 * 86400
        for _ in range(50):  # the access line is written when the response is done
            if s.out:
                break
            await asyncio.sleep(0.1)

    records = [json.loads(line) for line in s.log if line.strip()]  # every process log line is JSON
    assert any(r["message"].startswith("configuration applied: routes 2 (+2 -0 ~0)") for r in records)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = json.loads(next(line for line in s.out if '"shop.example.com"' in line))
    assert access["router"] == router_id
    assert (access["status"], access["host"], access["upstream"]) == (
        200, "shop.example.com", f"127.0.0.1:{backend.port}"
    )  # fmt: skip
