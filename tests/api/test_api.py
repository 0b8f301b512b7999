"""The JSON API, probes and security headers, through a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient

from ingressctl.api import Metrics, build_api_app
from tests.api.conftest import SECRET_MARKERS, ClientFactory, FakeView, make_route

ENDPOINTS = (
    "/api/overview",
    "/api/routers",
    "/api/services",
    "/api/certificates",
    "/api/diagnostics",
    "/api/entrypoints",
    "/api/rawdata",
)


async def get_json(client: TestClient[Any, Any], path: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    data: dict[str, Any] = await response.json()
    assert data["schema"] == 1
    return data


async def test_every_endpoint_answers_json_with_a_schema(api_client: TestClient[Any, Any]) -> None:
    for path in ENDPOINTS:
        await get_json(api_client, path)


async def test_routers_carry_status_service_middlewares_tls_and_diagnostics(
    api_client: TestClient[Any, Any],
) -> None:
    routers = {r["id"]: r for r in (await get_json(api_client, "/api/routers"))["routers"]}
    assert set(routers) == {
        "default/shop#0.0", "default/shop#0.1", "default/blog#0.0", "default/ghost#0.0",
        "staging/legacy#0.0", "default/catchall#default",
    }  # fmt: skip
    shop = routers["default/shop#0.0"]
    assert shop["host"] == "shop.example.com"
    assert shop["rule"] == "Host(`shop.example.com`) && PathPrefix(`/`)"
    assert shop["status"] == "enabled"
    assert shop["service"] == "default/shop:80"
    assert shop["tls"] == "secret"
    assert shop["location"] == "manifests/shop.yaml:7:9"

    api = routers["default/shop#0.1"]
    assert api["rule"] == "Host(`shop.example.com`) && Path(`/api`)"
    assert api["middlewares"] == ["basic-auth", "ip-allow-list"]
    auth = api["middleware_details"][0]
    assert auth == {"type": "basic-auth", "realm": "admins", "users": 3, "source": "Secret default/admins"}

    ghost = routers["default/ghost#0.0"]
    assert ghost["status"] == "error"
    assert ghost["problem"] == "service-not-found"
    assert [d["code"] for d in ghost["diagnostics"]] == ["IC301"]
    assert ghost["diagnostics"][0]["location"] == "manifests/ghost.yaml:12:15"

    blog = routers["default/blog#0.0"]
    assert blog["status"] == "warning"  # an annotation typo: served, with a finding
    assert blog["host_kind"] == "wildcard"
    assert blog["middlewares"] == ["redirect"]

    assert routers["staging/legacy#0.0"]["status"] == "warning"  # only a terminating endpoint left
    assert routers["default/catchall#default"]["default_backend"] is True


async def test_one_router_by_id_even_with_slash_and_hash(api_client: TestClient[Any, Any]) -> None:
    data = await get_json(api_client, "/api/routers/" + quote("default/shop#0.1", safe=""))
    assert data["router"]["path"] == "/api"
    data = await get_json(api_client, "/api/routers/default/shop%230.0")
    assert data["router"]["id"] == "default/shop#0.0"
    missing = await get_json(api_client, "/api/routers/default%2Fnope%230", status=404)
    assert "nope" in missing["error"]


async def test_services_list_endpoints_weights_and_health(api_client: TestClient[Any, Any]) -> None:
    services = {s["name"]: s for s in (await get_json(api_client, "/api/services"))["services"]}
    shop = services["default/shop:80"]
    assert shop["status"] == "up"
    assert [(e["address"], e["weight"], e["share"]) for e in shop["endpoints"]] == [
        ("10.0.0.1:8080", 3, 0.75),
        ("10.0.0.2:8080", 1, 0.25),
    ]
    assert shop["routers"] == ["default/shop#0.0"]
    assert services["default/ghost:80"]["status"] == "down"
    assert services["default/ghost:80"]["endpoints"] == []
    legacy = services["staging/legacy:80"]
    assert legacy["status"] == "degraded"
    assert legacy["endpoints"][0]["health"] == "fallback"


async def test_certificates_show_issuer_sans_days_left_and_problems(api_client: TestClient[Any, Any]) -> None:
    certs = {c["main"]: c for c in (await get_json(api_client, "/api/certificates"))["certificates"]}
    shop = certs["shop.example.com"]
    assert shop["sans"] == ["www.shop.example.com"]
    assert shop["issuer"] == "CN=Example CA"
    assert shop["source"] == "secret"
    assert 59 <= shop["days_left"] <= 60
    assert shop["status"] == "ok"
    assert certs["old.example.com"]["status"] == "error"
    assert certs["old.example.com"]["problems"] == ["expired"]
    assert certs["a.blog.example.org"]["status"] == "error"
    assert certs["a.blog.example.org"]["problems"] == ["renewal failed: rate limited"]


async def test_overview_counts_and_providers(api_client: TestClient[Any, Any]) -> None:
    o = await get_json(api_client, "/api/overview")
    assert o["ready"] is True
    assert o["routers"] == {"total": 6, "enabled": 3, "warning": 2, "error": 1}
    assert o["services"] == {"total": 6, "up": 4, "down": 1, "degraded": 1}
    assert o["diagnostics"] == {"total": 3, "error": 1, "warning": 2}
    assert o["certificates"]["total"] == 3
    providers = {p["provider"]: p for p in o["providers"]}
    assert providers["manifests"]["healthy"] is True
    assert providers["kubernetes"]["healthy"] is False
    assert providers["kubernetes"]["message"].startswith("401 Unauthorized")
    assert o["entrypoints"] == ["http", "https"]
    assert o["last_reload"] is not None


async def test_entrypoints_hide_auth_hashes(api_client: TestClient[Any, Any]) -> None:
    eps = {e["name"]: e for e in (await get_json(api_client, "/api/entrypoints"))["entrypoints"]}
    assert eps["https"]["tls"] is True
    assert eps["https"]["auth"] == {"realm": "edge", "users": 1}
    assert eps["http"]["redirect"] == "https"
    assert eps["http"]["open_connections"] == 0
    assert eps["http"]["protocols"] == ["http/1.1"] and eps["http"]["http2"] is None
    assert eps["https"]["protocols"] == ["h2", "http/1.1"]
    assert eps["https"]["http2"]["max_concurrent_streams"] == 250


async def test_no_response_ever_contains_key_material_hashes_or_tokens(
    api_client: TestClient[Any, Any], metrics: Metrics
) -> None:
    metrics.on_request("https", "default/shop#0.1", "default/shop-api:80", 200, 0.01)
    paths = [*ENDPOINTS, "/", "/dashboard/", "/metrics", "/ping", "/ready"]
    paths += ["/api/routers/" + quote(r, safe="") for r in ("default/shop#0.1", "default/ghost#0.0")]
    for path in paths:
        response = await api_client.get(path)
        assert response.status == 200, path
        body = await response.text()
        for marker in SECRET_MARKERS:
            assert marker not in body, f"{marker!r} leaked through {path}"
    # The redaction still leaves the readable part of the message.
    diagnostics = (await get_json(api_client, "/api/diagnostics"))["diagnostics"]
    assert any("Secret default/admins: line 2 'bob:[REDACTED HASH]'" in d["message"] for d in diagnostics)
    overview = await get_json(api_client, "/api/overview")
    assert overview["config"]["kubernetes"] == {"endpoint": "https://10.0.0.1:6443", "token": "[REDACTED]"}


async def test_ping_and_ready_probes(aiohttp_client: ClientFactory, view: FakeView) -> None:
    view.applied = False
    client = await aiohttp_client(build_api_app(view, Metrics(view), auth=None, insecure=False))
    ping = await client.get("/ping")
    assert (ping.status, await ping.text()) == (200, "OK")
    assert (await client.get("/ready")).status == 503
    assert (await get_json(client, "/api/overview"))["ready"] is False
    assert (await get_json(client, "/api/routers"))["routers"] == []
    view.applied = True
    ready = await client.get("/ready")
    assert (ready.status, await ready.text()) == (200, "OK")


async def test_dashboard_page_and_assets_are_served_with_a_strict_policy(
    api_client: TestClient[Any, Any],
) -> None:
    for path in ("/", "/dashboard/"):
        page = await api_client.get(path)
        assert page.status == 200
        assert page.content_type == "text/html"
        html = await page.text()
        assert '<script src="/static/app.js"' in html
        assert "http://" not in html and "https://" not in html  # nothing from a CDN
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Content-Type-Options"] == "nosniff"
    for asset, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = await api_client.get("/static/" + asset)
        assert response.status == 200 and response.content_type == kind
    redirect = await api_client.get("/dashboard", allow_redirects=False)
    assert redirect.headers["Location"] == "/dashboard/"
    assert (await api_client.get("/static/../app.py")).status == 404
    unknown = await get_json(api_client, "/api/nothing-here", status=404)
    assert "no such API endpoint" in unknown["error"]


async def test_rawdata_has_every_section(api_client: TestClient[Any, Any]) -> None:
    raw = await get_json(api_client, "/api/rawdata")
    assert set(raw) >= {"overview", "routers", "services", "certificates", "entrypoints", "diagnostics"}
    assert len(raw["routers"]) == 6
    assert len(raw["services"]) == 6


async def test_large_documents_are_revalidated_with_an_etag(
    api_client: TestClient[Any, Any], view: FakeView
) -> None:
    first = await api_client.get("/api/routers")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    for path in ("/api/routers", "/api/services", "/api/diagnostics"):
        again = await api_client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304, path
        assert await again.read() == b""
    # A new configuration is a new version.
    view.routes = view.routes[:1]
    changed = await api_client.get("/api/routers", headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert len((await changed.json())["routers"]) == 2  # the one route and the default backend
    # A finding that appears without a new table also makes a new version.
    etag = changed.headers["ETag"]
    view.diagnostics_ = [*view.diagnostics_[:1]]
    assert (await api_client.get("/api/diagnostics", headers={"If-None-Match": etag})).status == 200


async def test_thousands_of_routes_are_built_once_per_configuration(
    aiohttp_client: ClientFactory, view: FakeView
) -> None:
    view.routes = [
        make_route(f"ns{i % 40}", f"app{i}", "0.0", f"app{i}.example.com", "/", f"app{i}")
        for i in range(3000)
    ]
    client = await aiohttp_client(build_api_app(view, Metrics(view), auth=None, insecure=False))
    response = await client.get("/api/routers")
    assert len((await response.json())["routers"]) == 3001
    etag = response.headers["ETag"]
    for _ in range(20):  # (how fast an unchanged poll is belongs in `make bench`)
        assert (await client.get("/api/routers", headers={"If-None-Match": etag})).status == 304
    overview = await get_json(client, "/api/overview")
    assert overview["routers"]["total"] == 3001
    data = await get_json(client, "/api/routers/" + quote("ns7/app2047#0.0", safe=""))
    assert data["router"]["host"] == "app2047.example.com"
    # Pollers arriving together after a change share one build (one new version).
    view.routes = view.routes[:2500]
    responses = await asyncio.gather(*(client.get("/api/services") for _ in range(5)))
    assert len({r.headers["ETag"] for r in responses}) == 1
    assert responses[0].headers["ETag"] != etag


async def test_upstream_failures_are_listed_by_address(
    api_client: TestClient[Any, Any], metrics: Metrics
) -> None:
    assert (await get_json(api_client, "/api/upstreams"))["upstreams"] == []
    for kind in ("connect", "timeout"):
        metrics.on_upstream_error("web", "default/shop#0.0", "default/shop:80", "10.0.0.2:8080", kind)
    upstreams = (await get_json(api_client, "/api/upstreams"))["upstreams"]
    assert [(u["address"], u["failures"], u["last_failure_kind"]) for u in upstreams] == [
        ("10.0.0.2:8080", 2, "timeout")
    ]
    assert upstreams[0]["seconds_since"] <= 1
    assert (await get_json(api_client, "/api/rawdata"))["upstreams"] == upstreams


async def test_traffic_per_router_sums_entrypoints_and_services(
    api_client: TestClient[Any, Any], metrics: Metrics
) -> None:
    metrics.on_request("web", "default/shop#0.0", "default/shop:80", 200, 0.010)
    metrics.on_request("websecure", "default/shop#0.0", "default/shop:80", 503, 0.030)
    metrics.on_request("web", "default/blog#0.0", "default/blog:80", 404, 0.002)
    traffic = {t["router"]: t for t in (await get_json(api_client, "/api/traffic"))["traffic"]}
    assert traffic["default/shop#0.0"] == {
        "router": "default/shop#0.0", "requests": 2, "server_errors": 1, "mean_ms": 20.0
    }  # fmt: skip
    assert traffic["default/blog#0.0"]["server_errors"] == 0
