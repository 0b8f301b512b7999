"""Passive health in a real `ingressctl serve`: endpoints that refuse connections make their
services degraded or down in /api/services and on the dashboard (Chromium), from the proxy's own
failures on real requests; once they answer again, the services are up again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.api.browser import Page
from tests.api.test_serve_end_to_end import Serve, run_serve, wait_until_ready
from tests.support.ports import free_port

# "mixed": a live endpoint and one that refuses connections (127.0.0.2, where nothing listens);
# "dead": only an endpoint that refuses.
MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  ports: [{{name: http, port: 80}}]
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
- addresses: {addresses}
  conditions: {{ready: true}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: default}}
spec:
  rules:
  - host: {name}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: {name}, port: {{name: http}}}}
"""
DEADLINE = 30.0
BADGES = (  # service name -> the status badge the dashboard shows
    "Object.fromEntries([...document.querySelectorAll('#services tr[data-service]')]"
    ".map(r => [r.dataset.service, r.querySelector('.badge').textContent]))"
)


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


def backend_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    return app


async def services_by_name(s: Serve) -> dict[str, Any]:
    return {x["service"]: x for x in (await s.json("/api/services"))["services"]}


async def wait_for_status(s: Serve, wanted: dict[str, str]) -> dict[str, Any]:
    """Send requests through the proxy until /api/services shows `wanted` (service -> status)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        for name in wanted:
            await s.get(s.web + "/", headers={"Host": f"{name}.example.com"})
        found = await services_by_name(s)
        if {name: found[name]["status"] for name in wanted} == wanted:
            return found
        assert time.monotonic() < deadline, f"wanted {wanted}, have {found}\n" + "".join(s.log)
        await asyncio.sleep(0.2)


async def test_refused_endpoints_make_services_degraded_and_down_until_they_answer(
    tmp_path: Path, aiohttp_server: Any, page: Page
) -> None:
    live = await aiohttp_server(backend_app(), host="127.0.0.1")
    dead_port = free_port()
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "mixed.yaml").write_text(
        MANIFEST.format(name="mixed", port=live.port, addresses="[127.0.0.1, 127.0.0.2]")
    )
    (manifests / "dead.yaml").write_text(
        MANIFEST.format(name="dead", port=dead_port, addresses="[127.0.0.1]")
    )
    async with run_serve("--manifests", str(manifests), "--api-address", "127.0.0.1:0") as s:
        await wait_until_ready(s)
        before = await services_by_name(s)
        assert {name: x["status"] for name, x in before.items()} == {"mixed": "up", "dead": "up"}

        # Real requests: the mixed service still answers (a refused connect is retried on the
        # other endpoint), the dead one cannot; the proxy learns which endpoints fail.
        for _ in range(4):
            assert (await s.get(s.web + "/", headers={"Host": "mixed.example.com"}))[0] == 200
        assert (await s.get(s.web + "/", headers={"Host": "dead.example.com"}))[0] == 502
        found = await services_by_name(s)
        mixed, dead = found["mixed"], found["dead"]
        assert mixed["status"] == "degraded" and mixed["failing_endpoints"] == 1
        refused = next(e for e in mixed["endpoints"] if e["address"] == f"127.0.0.2:{live.port}")
        # Ejected for 1 s after its first failure; a loaded machine may ask later than that, when it
        # is "failing" (to be tried again). Either way not healthy, and it says why.
        assert refused["state"] in ("ejected", "failing"), refused
        assert (refused["ejected_until"] is not None) == (refused["state"] == "ejected")
        assert refused["last_error"]["kind"] == "connect"
        working = next(e for e in mixed["endpoints"] if e["address"] == f"127.0.0.1:{live.port}")
        assert working["state"] == "healthy"
        assert dead["status"] == "down"
        assert [(e["state"], e["last_error"]["kind"]) for e in dead["endpoints"]] == [("failing", "connect")]
        overview = await s.json("/api/overview")
        assert overview["services"] == {"total": 2, "degraded": 1, "down": 1}

        # The dashboard shows the same.
        await page.goto(s.api + "/dashboard/")
        shown = await page.wait_for(f"(b => Object.keys(b).length === 2 && b)({BADGES})")
        assert shown == {mixed["name"]: "degraded", dead["name"]: "down"}
        states = await page.eval(
            "[...document.querySelectorAll('#services li[data-endpoint]')].map(li => li.dataset.state).sort()"
        )
        assert states in (["ejected", "failing", "healthy"], ["failing", "failing", "healthy"])

        # Both answer again: after the next successful request through each, the services are up.
        await aiohttp_server(backend_app(), host="127.0.0.2", port=live.port)
        await aiohttp_server(backend_app(), host="127.0.0.1", port=dead_port)
        found = await wait_for_status(s, {"mixed": "up", "dead": "up"})
        assert {e["state"] for x in found.values() for e in x["endpoints"]} == {"healthy"}
        all_up = f"(b => Object.values(b).every(x => x === 'up') && b)({BADGES})"
        await page.wait_for(all_up, timeout=DEADLINE)
        assert page.console_errors == []
