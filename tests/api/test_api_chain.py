"""The API shows each route's middleware chain in the order the proxy runs it, from the same plan data."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ingressctl.proxy.plan import RoutePlan
from tests.api.conftest import SECRET_MARKERS, FakeView


async def test_routers_show_the_chain_the_proxy_runs(
    api_client: TestClient[Any, Any], view: FakeView
) -> None:
    response = await api_client.get("/api/routers")
    assert response.status == 200
    text = await response.text()
    routers = {r["id"]: r for r in (await response.json())["routers"]}
    guarded = routers["default/shop#0.1"]
    chain = guarded["chain"]
    # Allow-list before basic auth: the order the proxy applies them.
    assert [m["name"] for m in chain] == ["ip-allow-list", "basic-auth"]
    assert chain[0]["source_ranges"] == ["10.0.0.0/8"]
    assert (chain[1]["realm"], chain[1]["users"]) == ("admins", 3)
    assert all(m["effect"] for m in chain)
    route = next(r for r in view.routes if r.id == "default/shop#0.1")
    assert [m["name"] for m in chain] == [m.name for m in RoutePlan(route).chain]
    assert routers["default/blog#0.0"]["chain"][0]["name"] == "redirect"
    assert routers["default/shop#0.0"]["chain"] == []
    assert not any(marker in text for marker in SECRET_MARKERS)
