"""/api/services and the overview tell the proxy's live view of each endpoint (passive health),
through a real aiohttp server on loopback; the document is cached while nothing changes."""

from __future__ import annotations

import calendar
import time
from typing import Any

from aiohttp.test_utils import TestClient

from ingressctl.api import Metrics, build_api_app
from ingressctl.proxy.pool import EndpointFailing
from tests.api.conftest import ClientFactory, FakeView

NOW = 1_800_000_000.0


async def services(client: TestClient[Any, Any]) -> tuple[dict[str, Any], str]:
    response = await client.get("/api/services")
    assert response.status == 200
    return {s["name"]: s for s in (await response.json())["services"]}, response.headers["ETag"]


def endpoint(service: dict[str, Any], address: str) -> dict[str, Any]:
    return next(e for e in service["endpoints"] if e["address"] == address)


def epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


async def client_for(aiohttp_client: ClientFactory, view: FakeView, metrics: Metrics) -> TestClient[Any, Any]:
    return await aiohttp_client(build_api_app(view, metrics, auth=None, insecure=False, clock=lambda: NOW))


async def test_healthy_endpoints_and_an_ejected_one(aiohttp_client: ClientFactory, view: FakeView) -> None:
    metrics = Metrics(view, clock=lambda: NOW - 3)
    client = await client_for(aiohttp_client, view, metrics)
    before, etag = await services(client)
    shop = before["default/shop:80"]
    assert shop["status"] == "up" and shop["failing_endpoints"] == 0
    assert {e["state"] for s in before.values() for e in s["endpoints"]} == {"healthy"}
    assert endpoint(shop, "10.0.0.2:8080")["last_error"] is None

    # The proxy could not connect to 10.0.0.2 twice and ejected it for 30 s.
    metrics.on_upstream_error("web", "default/shop#0.0", "default/shop:80", "10.0.0.2:8080", "connect")
    view.failing = {("10.0.0.2", 8080): EndpointFailing(failures=2, ejected_for=30.0)}
    after, live_etag = await services(client)
    shop = after["default/shop:80"]
    assert shop["status"] == "degraded"
    assert shop["failing_endpoints"] == 1
    ejected = endpoint(shop, "10.0.0.2:8080")
    assert ejected["state"] == "ejected"
    assert ejected["consecutive_failures"] == 2
    assert epoch(ejected["ejected_until"]) == NOW + 30
    assert ejected["last_error"]["kind"] == "connect"
    assert epoch(ejected["last_error"]["at"]) == NOW - 3
    assert endpoint(shop, "10.0.0.1:8080")["state"] == "healthy"
    # Services that do not use the address are served as they were.
    assert after["default/blog:80"] == before["default/blog:80"]
    assert live_etag != etag
    # Unchanged health: the same ETag, and a poller's revalidation gets 304.
    again = await client.get("/api/services", headers={"If-None-Match": live_etag})
    assert again.status == 304

    overview = await (await client.get("/api/overview")).json()
    assert overview["services"]["degraded"] == 2  # shop, and legacy (fallback endpoints only)
    raw = await (await client.get("/api/rawdata")).json()
    assert {s["name"]: s["status"] for s in raw["services"]}["default/shop:80"] == "degraded"

    # It answered again: healthy, and the configuration's own document (and ETag) is back.
    view.failing = {}
    recovered, recovered_etag = await services(client)
    assert recovered == before and recovered_etag == etag


async def test_every_endpoint_failing_is_down(aiohttp_client: ClientFactory, view: FakeView) -> None:
    client = await client_for(aiohttp_client, view, Metrics(view))
    view.failing = {
        ("10.0.0.1", 8080): EndpointFailing(failures=1, ejected_for=0.0),  # ejection over, not yet retried
        ("10.0.0.2", 8080): EndpointFailing(failures=4, ejected_for=8.0),
    }
    found, _ = await services(client)
    shop = found["default/shop:80"]
    assert shop["status"] == "down"
    assert [(e["address"], e["state"]) for e in shop["endpoints"]] == [
        ("10.0.0.1:8080", "failing"),
        ("10.0.0.2:8080", "ejected"),
    ]
    assert endpoint(shop, "10.0.0.1:8080")["ejected_until"] is None
    assert endpoint(shop, "10.0.0.1:8080")["last_error"] is None  # the metrics saw none: no invention
    # 10.0.0.1:8080 is the only endpoint of blog: a single endpoint is never skipped by the
    # balancer, so it is "failing" (tried on every request), not "ejected".
    blog = found["default/blog:80"]
    assert blog["status"] == "down"
    assert [(e["state"], e["ejected_until"]) for e in blog["endpoints"]] == [("failing", None)]
    # A service that cannot be served at all stays down; addresses no route uses change nothing.
    view.failing[("192.0.2.1", 80)] = EndpointFailing(failures=9, ejected_for=30.0)
    found, _ = await services(client)
    assert found["default/ghost:80"]["status"] == "down"
    assert all("192.0.2.1:80" not in [e["address"] for e in s["endpoints"]] for s in found.values())
