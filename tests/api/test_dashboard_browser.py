"""The dashboard in a real headless Chromium: it loads, shows routers, filters, and follows changes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from ingressctl.api import Metrics, build_api_app
from ingressctl.model import Diagnostic, ObjectRef, Severity
from ingressctl.proxy.pool import EndpointFailing
from tests.api.browser import Page
from tests.api.conftest import SECRET_MARKERS, FakeView, make_route

SCREENSHOT = Path("/tmp/ingressctl-dashboard.png")

ROUTER_HOSTS = (
    "[...document.querySelectorAll('#routers tbody tr[data-router]')].map(r => r.children[1].textContent)"
)
VISIBLE_ROUTERS = (
    "[...document.querySelectorAll('#routers tbody tr[data-router]')].map(r => r.dataset.router)"
)
# The page polls every 2 s; a loaded machine may take several polls to show a change.
REFRESH_WAIT = 30.0
SHOP_STATUS = "document.querySelector('tr[data-service=\"default/shop:80\"] .badge').textContent"
VISIBLE_SERVICES = (
    "[...document.querySelectorAll('#services tbody tr[data-service]')].map(r => r.dataset.service)"
)


async def open_dashboard(aiohttp_server: Any, page: Page, view: FakeView, path: str = "/") -> Metrics:
    metrics = Metrics(view)
    server: TestServer = await aiohttp_server(build_api_app(view, metrics, auth=None, insecure=False))
    await page.goto(str(server.make_url(path)))
    await page.wait_for("document.body.dataset.loaded === 'true'")
    return metrics


async def test_dashboard_shows_routers_services_certificates_and_providers(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    metrics = await open_dashboard(aiohttp_server, page, view, "/dashboard/")
    hosts = await page.eval(ROUTER_HOSTS)
    assert sorted(hosts) == sorted(
        ["shop.example.com", "shop.example.com", "*.blog.example.org", "ghost.example.com", "*",
         "(default backend)"]
    )  # fmt: skip
    ghost = await page.eval("document.querySelector('tr[data-router=\"default/ghost#0.0\"]').textContent")
    assert "error" in ghost and "service-not-found" in ghost and "IC301" in ghost
    shop_service = await page.eval(
        "document.querySelector('tr[data-service=\"default/shop:80\"]').textContent"
    )
    assert "10.0.0.1:8080" in shop_service and "w3 · 75%" in shop_service
    certs = await page.eval("document.querySelector('#certificates tbody').textContent")
    assert "www.shop.example.com" in certs and "CN=Pebble Intermediate CA" in certs
    providers = await page.eval("document.querySelector('#providers tbody').textContent")
    assert "kubernetes" in providers and "unhealthy" in providers
    # Each entrypoint with the protocols clients can speak there (HTTP/2 by ALPN on TLS).
    entrypoints = await page.eval(
        "[...document.querySelectorAll('#entrypoints tbody tr')].map(r => r.cells[3].textContent)"
    )
    assert entrypoints == ["http/1.1", "h2, http/1.1"]
    assert await page.eval("document.getElementById('ready').textContent") == "ready"
    text = await page.eval("document.body.innerText")
    for marker in SECRET_MARKERS:
        assert marker not in text
    # The proxy failed to reach an endpoint once, and it has worked since: history, not "failing".
    metrics.on_upstream_error("web", "default/shop#0.0", "default/shop:80", "10.0.0.2:8080", "connect")
    note = await page.wait_for(
        "(n => n && n.textContent)(document.querySelector('tr[data-service=\"default/shop:80\"] .failure'))"
    )
    assert re.fullmatch(r"1 failure, last connect \d s ago", note.strip())
    assert await page.eval(SHOP_STATUS) == "up"
    # Now it fails and is ejected (the proxy's pool says so): the service is degraded, the
    # endpoint ejected until a time, with the failure that put it there.
    view.failing = {("10.0.0.2", 8080): EndpointFailing(failures=2, ejected_for=30.0)}
    await page.wait_for(f"{SHOP_STATUS} === 'degraded'", timeout=REFRESH_WAIT)
    endpoint = await page.eval(
        'document.querySelector(\'tr[data-service="default/shop:80"] li[data-endpoint="10.0.0.2:8080"]\')'
        ".textContent"
    )
    assert re.fullmatch(
        r"10\.0\.0\.2:8080 w1 · 25% ejected until \S+( [AP]M)? · 2 failures in a row"
        r" · last connect \d+ s ago",
        endpoint,
    ), endpoint
    cards = await page.wait_for(
        "(t => t.includes('2 degraded') && t)(document.getElementById('cards').textContent)",
        timeout=REFRESH_WAIT,
    )
    assert "Services6 3 up1 down2 degraded" in cards  # was 4 up, 1 down, 1 degraded (all fallback)
    # Every endpoint failing: down. Then one answers again: up.
    view.failing[("10.0.0.1", 8080)] = EndpointFailing(failures=1, ejected_for=0.0)
    await page.wait_for(f"{SHOP_STATUS} === 'down'", timeout=REFRESH_WAIT)
    view.failing = {}
    await page.wait_for(f"{SHOP_STATUS} === 'up'", timeout=REFRESH_WAIT)
    # Requests through the proxy show up in the router's traffic cell.
    for _ in range(3):
        metrics.on_request("web", "default/shop#0.0", "default/shop:80", 200, 0.004)
    metrics.on_request("web", "default/shop#0.0", "default/shop:80", 502, 0.008)
    traffic = await page.wait_for(
        "(t => t.includes('4 req') && t)"
        "(document.querySelector('tr[data-router=\"default/shop#0.0\"] td.traffic').textContent)"
    )
    assert re.fullmatch(r"4 req(\d+\.\d/s · )?5\.0 ms5xx 1", traffic), traffic
    metrics.on_request("web", "default/blog#0.0", "default/blog:80", 200, 0.001)
    blog = await page.wait_for(
        "(t => t.includes('1 req') && t)"
        "(document.querySelector('tr[data-router=\"default/blog#0.0\"] td.traffic').textContent)"
    )
    assert re.fullmatch(r"1 req(\d+\.\d/s · )?1\.0 ms", blog), blog
    # "/" jumps to the filter.
    await page.send("Input.dispatchKeyEvent", type="keyDown", key="/", text="/")
    assert await page.eval("document.activeElement.id") == "search"
    assert await page.eval("document.getElementById('search').value") == ""
    assert page.console_errors == []


async def test_search_box_filters_routers_and_services(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    await open_dashboard(aiohttp_server, page, view)
    await page.type_into("#search", "shop")
    routers = await page.wait_for(f"(r => r.length === 2 && r)({VISIBLE_ROUTERS})")
    assert sorted(routers) == ["default/shop#0.0", "default/shop#0.1"]
    assert sorted(await page.eval(VISIBLE_SERVICES)) == ["default/shop-api:80", "default/shop:80"]
    assert await page.eval("document.getElementById('routers-count').textContent") == "2 of 6"
    # Several words must all match; a status is searchable too.
    await page.eval(
        "(s => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.getElementById('search'))"
    )
    await page.type_into("#search", "error ghost")
    assert await page.wait_for(f"(r => r.length === 1 && r)({VISIBLE_ROUTERS})") == ["default/ghost#0.0"]
    await page.eval(
        "(s => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.getElementById('search'))"
    )
    await page.type_into("#search", "no-such-thing")
    assert await page.wait_for("document.querySelector('#routers tbody').textContent") == (
        "No router matches the filter."
    )


async def test_page_follows_a_configuration_change_without_reloading(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    await open_dashboard(aiohttp_server, page, view)
    await page.type_into("#search", "example")
    await page.wait_for(f"{VISIBLE_ROUTERS}.length === 4")
    await page.eval("window.__sameDocument = true")
    # The server applies a new configuration: a route appears, one goes away, a finding is fixed.
    view.routes = [
        *[r for r in view.routes if r.id != "default/ghost#0.0"],
        make_route("default", "docs", "0.0", "docs.example.com", "/", "docs"),
    ]
    view.diagnostics_ = [d for d in view.diagnostics_ if d.code != "IC301"]
    routers = await page.wait_for(f"(r => r.includes('default/docs#0.0') && r)({VISIBLE_ROUTERS})", timeout=6)
    assert "default/ghost#0.0" not in routers
    assert await page.eval("window.__sameDocument") is True  # updated in place, no reload
    assert await page.eval("document.getElementById('search').value") == "example"  # the filter stayed
    # A failed reload shows a banner, and the page keeps the last good table.
    view.error = "compile failed: Ingress default/bad: invalid host"
    banner = await page.wait_for(
        "!document.getElementById('banner').hidden && document.getElementById('banner').textContent"
    )
    assert "still serving the previous configuration" in banner


async def test_untrusted_text_is_shown_as_text_not_markup(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    payload = '<img src=x onerror="window.__xss=1"><b>bold</b>'
    view.diagnostics_ = [
        Diagnostic(
            "IC999",
            Severity.WARNING,
            "Ingress default/shop: " + payload,
            object=ObjectRef("Ingress", "default", "shop"),
        )
    ]
    await open_dashboard(aiohttp_server, page, view)
    cell = await page.eval(
        "document.querySelector('tr[data-router=\"default/shop#0.0\"] td.problems').textContent"
    )
    assert payload in cell
    assert await page.eval("document.querySelectorAll('#routers img, #routers b').length") == 0
    assert await page.eval("window.__xss === undefined") is True


async def test_accessible_structure_dark_mode_and_screenshot(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    await page.send(
        "Emulation.setDeviceMetricsOverride", width=1400, height=1100, deviceScaleFactor=1, mobile=False
    )
    await open_dashboard(aiohttp_server, page, view)
    assert (
        await page.eval("document.querySelector('label[for=search]').textContent")
        == "Filter routers and services"
    )
    assert (
        await page.eval("[...document.querySelectorAll('thead th')].every(th => th.scope === 'col')") is True
    )
    assert await page.eval("document.documentElement.lang") == "en"
    light = await page.eval("getComputedStyle(document.body).backgroundColor")
    await page.send(
        "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}]
    )
    dark = await page.wait_for(
        f"(c => c !== {json.dumps(light)} && c)(getComputedStyle(document.body).backgroundColor)"
    )
    assert light == "rgb(246, 247, 249)" and dark == "rgb(15, 18, 22)"
    await page.send(
        "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}]
    )
    await page.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000


async def test_polling_revalidates_and_large_tables_are_capped(
    aiohttp_server: Any, page: Page, view: FakeView
) -> None:
    view.routes = [
        make_route("big", f"app{i}", "0.0", f"app{i}.example.com", "/", f"app{i}") for i in range(800)
    ]
    app = build_api_app(view, Metrics(view), auth=None, insecure=False)
    statuses: list[tuple[str, int]] = []

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        statuses.append((request.path, response.status))

    app.on_response_prepare.append(record)
    server: TestServer = await aiohttp_server(app)
    await page.goto(str(server.make_url("/")))
    await page.wait_for("document.body.dataset.loaded === 'true'")
    assert await page.eval(f"{VISIBLE_ROUTERS}.length") == 500
    note = await page.eval("document.querySelector('#routers tr.more').textContent")
    assert note == "Showing 500 of 801; type in the filter to find the others."
    # The next polls get 304s for the unchanged routers/services documents.
    # Poll until a deadline: the dashboard polls every few seconds, longer on a loaded machine.
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        if ("/api/routers", 304) in statuses and ("/api/services", 304) in statuses:
            break
        await asyncio.sleep(0.1)
    assert ("/api/routers", 304) in statuses and ("/api/services", 304) in statuses
    await page.type_into("#search", "app799.")
    assert await page.wait_for(f"(r => r.length === 1 && r)({VISIBLE_ROUTERS})") == ["big/app799#0.0"]


async def test_headers_sort_routers_and_say_so(aiohttp_server: Any, page: Page, view: FakeView) -> None:
    await open_dashboard(aiohttp_server, page, view)
    click = "document.querySelector('#routers th[data-sort=\"{}\"] button').click()"
    await page.eval(click.format("host"))
    hosts = await page.eval(ROUTER_HOSTS)
    assert hosts == sorted(hosts, key=lambda h: "~" if h in ("*", "(default backend)") else h)
    assert (
        await page.eval("document.querySelector('#routers th[data-sort=\"host\"]').ariaSort") == "ascending"
    )
    await page.eval(click.format("host"))
    descending = await page.eval(ROUTER_HOSTS)
    assert set(descending[:2]) == {"*", "(default backend)"}  # rules without a host sort after any host
    assert descending[2:] == [
        "shop.example.com",
        "shop.example.com",
        "ghost.example.com",
        "*.blog.example.org",
    ]
    assert (
        await page.eval("document.querySelector('#routers th[data-sort=\"host\"]').ariaSort") == "descending"
    )
    await page.eval(click.format("status"))
    statuses = await page.eval(
        f'{VISIBLE_ROUTERS}.map(id => document.querySelector(`tr[data-router="${{id}}"]`).className)'
    )
    assert statuses == [
        "status-error",
        "status-warning",
        "status-warning",
        "status-enabled",
        "status-enabled",
        "status-enabled",
    ]
    assert await page.eval("document.querySelector('#routers th[data-sort=\"host\"]').ariaSort") == "none"
