"""The backend-side annotations end to end: a real `ingressctl serve` reading manifests, three real
backends per Service (127.0.0.1, .2 and .3 on one port, as three Pods), each told to fail or slow
down on command. Sticky sessions (ingress-nginx spelling), the drr method and the circuit breaker
(Traefik Service annotations), proxy-body-size; `validate` and `routes --explain` on the same files."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.serve.conftest import ServeProcess, run_cli
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(120)

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


@dataclass
class Pod:
    """A backend answering with its address; `status` and `delay` are changed by the test."""

    host: str
    port: int = 0
    status: int = 200
    delay: float = 0.0
    hits: int = 0
    runner: web.AppRunner | None = None

    async def start(self) -> Pod:
        async def handler(request: web.Request) -> web.Response:
            await request.read()
            self.hits += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(status=self.status, text=self.host)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def app(
    name: str,
    port: int,
    ingress_annotations: str = "",
    service_annotations: str = "",
    addresses: tuple[str, ...] = ADDRESSES,
) -> str:
    return app_manifest(
        name,
        f"{name}.test",
        "/",
        port,
        "    kubernetes.io/ingress.class: traefik\n" + ingress_annotations,
        service_annotations=service_annotations,
        addresses=addresses,
    )


def manifests(directory: Path, ports: dict[str, int]) -> Path:
    directory.mkdir()
    path = directory / "apps.yaml"
    apps = [
        app(
            "sticky",
            ports["sticky"],
            "    nginx.ingress.kubernetes.io/affinity: cookie\n"
            "    nginx.ingress.kubernetes.io/session-cookie-name: shop-route\n"
            "    nginx.ingress.kubernetes.io/session-cookie-samesite: Lax\n",
        ),
        app(
            "breaker",
            ports["breaker"],
            service_annotations="    traefik.ingress.kubernetes.io/circuit-breaker-expression: "
            '"NetworkErrorRatio() > 0.5"\n',
        ),
        app(
            "drr",
            ports["drr"],
            service_annotations="    traefik.ingress.kubernetes.io/load-balancer-method: drr\n",
        ),
        app("limited", ports["limited"], '    nginx.ingress.kubernetes.io/proxy-body-size: "1k"\n'),
        app(
            "broken",
            ports["limited"],
            service_annotations="    traefik.ingress.kubernetes.io/circuit-breaker-expression: "
            '"NetworkErrorRatio() >> 0.5"\n',
        ),
    ]
    path.write_text("---\n".join(apps))
    return path


async def get(
    session: aiohttp.ClientSession, url: str, host: str, method: str = "GET", data: bytes | None = None
) -> tuple[int, str, str | None]:
    async with session.request(method, url, headers={"Host": host}, data=data) as resp:
        return resp.status, await resp.text(), resp.headers.get("Set-Cookie")


async def test_backend_annotations_through_serve(tmp_path: Path, serve: Callable[..., ServeProcess]) -> None:
    pods: dict[str, list[Pod]] = {}
    for name in ("sticky", "breaker", "drr", "limited"):
        first = await Pod(ADDRESSES[0]).start()
        pods[name] = [first] + [await Pod(a, first.port).start() for a in ADDRESSES[1:]]
    try:
        path = manifests(tmp_path / "manifests", {name: group[0].port for name, group in pods.items()})
        sp = await asyncio.to_thread(
            lambda: serve(
                "--entrypoint",
                "web=127.0.0.1:0",
                "--manifests",
                str(path.parent),
                "--api-address",
                "127.0.0.1:0",
            )
        )
        await asyncio.to_thread(sp.wait_ready)
        api = (await asyncio.to_thread(sp.wait_for, r"API and dashboard on (\S+)/")).group(1)
        url = sp.url("/")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            await sticky_sessions(s, url, pods["sticky"])
        async with aiohttp.ClientSession() as s:
            await least_latency(s, url, pods["drr"])
            await body_size(s, url, pods["limited"])
            await circuit_breaker(s, url, api, pods["breaker"])
            # A route whose breaker expression cannot be parsed fails closed.
            assert (await get(s, url, "broken.test"))[0] == 503
            async with s.get(f"{api}/api/routers") as resp:
                routes = json.dumps(await resp.json())
            assert "circuit-breaker" in routes and "upstream-policy" in routes
        assert "Traceback" not in sp.text, sp.text
    finally:
        for group in pods.values():
            for pod in group:
                await pod.stop()


async def sticky_sessions(s: aiohttp.ClientSession, url: str, pods: list[Pod]) -> None:
    status, pinned, cookie = await get(s, url, "sticky.test")
    assert status == 200 and cookie is not None
    assert re.fullmatch(r"shop-route=[0-9a-f]{16}; Path=/; SameSite=Lax", cookie), cookie
    for _ in range(9):
        assert (await get(s, url, "sticky.test"))[:2] == (200, pinned)
    # The pinned Pod dies: the request goes to another, and the client is pinned there.
    await next(p for p in pods if p.host == pinned).stop()
    status, moved, cookie = await get(s, url, "sticky.test")
    assert status == 200 and moved != pinned and cookie is not None
    for _ in range(6):
        assert (await get(s, url, "sticky.test"))[:2] == (200, moved)


async def least_latency(s: aiohttp.ClientSession, url: str, pods: list[Pod]) -> None:
    pods[0].delay = 0.2
    for _ in range(30):
        assert (await get(s, url, "drr.test"))[0] == 200
    assert pods[0].hits <= 3, [p.hits for p in pods]
    assert pods[1].hits + pods[2].hits >= 27


async def body_size(s: aiohttp.ClientSession, url: str, pods: list[Pod]) -> None:
    assert (await get(s, url, "limited.test", "POST", b"x" * 1024))[0] == 200
    assert (await get(s, url, "limited.test", "POST", b"x" * 1025))[0] == 413
    assert sum(p.hits for p in pods) == 1


async def circuit_breaker(s: aiohttp.ClientSession, url: str, api: str, pods: list[Pod]) -> None:
    loop = asyncio.get_running_loop()
    assert (await get(s, url, "breaker.test"))[0] == 200
    for pod in pods:
        pod.status = 502
    deadline = loop.time() + 30
    while (status := (await get(s, url, "breaker.test"))[0]) != 503:
        assert status == 502 and loop.time() < deadline
    hits = sum(p.hits for p in pods)
    status, body, _ = await get(s, url, "breaker.test")
    assert status == 503 and "circuit breaker" in body
    assert sum(p.hits for p in pods) == hits  # open: answered without asking a Pod
    async with s.get(f"{api}/metrics") as resp:
        metrics = await resp.text()
    counted = re.search(
        r'ingressctl_circuit_broken_requests_total\{router="default/breaker[^"]*"\} (\S+)', metrics
    )
    assert counted is not None and float(counted.group(1)) >= 2, metrics[-2000:]
    # The Pods recover; after the fallback time (10 s) probes pass and the breaker closes.
    for pod in pods:
        pod.status = 200
    deadline = loop.time() + 60
    ok = 0
    while ok < 5:
        status = (await get(s, url, "breaker.test"))[0]
        ok = ok + 1 if status == 200 else 0
        assert status in (200, 503) and loop.time() < deadline
        if status == 503:
            await asyncio.sleep(0.2)


def test_validate_and_explain_read_the_same_annotations(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = manifests(tmp_path / "manifests", {"sticky": 8080, "breaker": 8081, "drr": 8082, "limited": 8083})
    result = run_cli(["validate", str(path), "--format", "json"], cli_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [f for f in json.loads(result.stdout)["findings"] if f["severity"] == "error"]
    lines = path.read_text().splitlines()
    broken_line = next(i for i, line in enumerate(lines, 1) if ">>" in line)
    assert [(f["code"], f["line"]) for f in errors] == [("IC213", broken_line)]
    assert "Service default/broken" in errors[0]["message"]
    explain = run_cli(["routes", str(path), "--explain", "http://sticky.test/cart"], cli_env)
    assert "upstream-policy(sticky:shop-route,round-robin)" in explain.stdout, explain.stdout
    assert "pins the client to an endpoint" in explain.stdout
    explain = run_cli(["routes", str(path), "--explain", "http://breaker.test/"], cli_env)
    assert "circuit-breaker: 503 for 10s once NetworkErrorRatio() > 0.5 holds" in explain.stdout, (
        explain.stdout
    )


async def test_error_pages_and_default_backend_through_serve(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    first = await Pod(ADDRESSES[0]).start()
    pods = [first] + [await Pod(a, first.port).start() for a in ADDRESSES[1:]]
    pages = await Pod("127.0.0.4").start()
    try:
        directory = tmp_path / "manifests"
        directory.mkdir()
        error_pages = (
            "    traefik.ingress.kubernetes.io/error-pages: |\n"
            "      down:\n"
            '        status: ["500-599"]\n'
            f"        backend: pages:{pages.port}\n"
            "        query: /{status}.html\n"
        )
        nginx = (
            '    nginx.ingress.kubernetes.io/custom-http-errors: "503"\n'
            "    nginx.ingress.kubernetes.io/default-backend: pages\n"
        )
        (directory / "apps.yaml").write_text(
            "---\n".join(
                [
                    app("traefik", first.port, error_pages),
                    app("nginx", first.port, nginx),
                    app("empty", first.port, nginx, addresses=()),
                    app("pages", pages.port, addresses=("127.0.0.4",)).replace(
                        "    port: 80\n", f"    port: {pages.port}\n"
                    ),
                ]
            )
        )
        sp = await asyncio.to_thread(
            lambda: serve("--entrypoint", "web=127.0.0.1:0", "--manifests", str(directory))
        )
        await asyncio.to_thread(sp.wait_ready)
        url = sp.url("/shop")
        async with aiohttp.ClientSession() as s:
            assert (await get(s, url, "traefik.test"))[0] == 200
            # ingress-nginx default-backend: the Service without endpoints is served by the pages Pod.
            assert (await get(s, url, "empty.test"))[:2] == (200, "127.0.0.4")
            for pod in pods:
                pod.status = 503
            for host in ("traefik.test", "nginx.test"):
                status, body, _ = await get(s, url, host)
                assert (status, body) == (503, "127.0.0.4"), host  # the page, the status kept
            for pod in pods:
                pod.status = 500
            assert (await get(s, url, "traefik.test"))[:2] == (500, "127.0.0.4")
            status, body, _ = await get(s, url, "nginx.test")
            assert status == 500 and body in ADDRESSES  # 500 is not listed for it: passed on
        assert "Traceback" not in sp.text, sp.text
    finally:
        for pod in [*pods, pages]:
            await pod.stop()
