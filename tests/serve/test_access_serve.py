"""Access control and limits end to end: a real `ingressctl serve` with real backends and a real
auth service on loopback, the annotations written as a Traefik 1.7 or ingress-nginx cluster
writes them; `validate` reports bad values at their lines and those routes answer 503; `routes
--explain` shows the chain; /metrics counts the rate-limited requests per route."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.serve.conftest import ServeProcess, run_cli
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(90)

SHA = "{SHA}" + base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: users, namespace: default}}
data:
  alice: {base64.b64encode(SHA.encode()).decode()}
"""


def apps(auth_port: int) -> list[tuple[str, str]]:
    auth = f"http://127.0.0.1:{auth_port}"
    return [
        ("open", ""),
        (
            "traefik-fwd",
            "    ingress.kubernetes.io/auth-type: forward\n"
            f"    ingress.kubernetes.io/auth-url: {auth}/verify\n"
            "    ingress.kubernetes.io/auth-response-headers: X-Auth-User\n",
        ),
        (
            "nginx-fwd",
            f"    nginx.ingress.kubernetes.io/auth-url: {auth}/verify\n"
            '    nginx.ingress.kubernetes.io/auth-signin: "https://$host/oauth2/start"\n'
            "    nginx.ingress.kubernetes.io/auth-response-headers: X-Auth-User\n",
        ),
        (
            "nginx-basic",
            "    nginx.ingress.kubernetes.io/auth-type: basic\n"
            "    nginx.ingress.kubernetes.io/auth-secret: users\n"
            "    nginx.ingress.kubernetes.io/auth-secret-type: auth-map\n"
            "    nginx.ingress.kubernetes.io/auth-realm: Staff\n",
        ),
        (
            "traefik-limit",
            "    traefik.ingress.kubernetes.io/rate-limit: |\n"
            "      extractorfunc: client.ip\n"
            "      rateset:\n"
            "        slow:\n"
            "          period: 1m\n"
            "          average: 1\n"
            "          burst: 2\n",
        ),
        (
            "nginx-limit",
            '    nginx.ingress.kubernetes.io/limit-rpm: "1"\n'
            '    nginx.ingress.kubernetes.io/limit-burst-multiplier: "1"\n',
        ),
        ("nginx-deny", "    nginx.ingress.kubernetes.io/denylist-source-range: 127.0.0.0/8, ::1\n"),
        ("nginx-digest", "    nginx.ingress.kubernetes.io/auth-type: digest\n"),
        ("bad-limit", '    nginx.ingress.kubernetes.io/limit-rps: "lots"\n'),
        ("bad-auth-url", "    nginx.ingress.kubernetes.io/auth-url: $upstream/verify\n"),
        ("maxconn", ""),
    ]


MAX_CONN = '  annotations:\n    traefik.ingress.kubernetes.io/max-conn-amount: "1"\n'


async def start_app(handler: Callable[[web.Request], web.StreamResponse]) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@pytest.fixture
async def services() -> AsyncIterator[tuple[int, int, list[str], asyncio.Event, asyncio.Event]]:
    """(backend port, auth service port, what the auth service was asked, /slow entered, release)."""
    asked: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        if request.path == "/slow":
            entered.set()
            await release.wait()
        return web.Response(text=f"user={request.headers.get('X-Auth-User', '-')}")

    async def verify(request: web.Request) -> web.Response:
        asked.append(request.headers.get("X-Forwarded-Uri") or request.headers.get("X-Original-URI", ""))
        if request.headers.get("Authorization") == "Bearer good":
            return web.Response(text="ok", headers={"X-Auth-User": "alice"})
        return web.Response(status=401, text="who are you?", headers={"WWW-Authenticate": "Bearer"})

    backend, backend_port = await start_app(echo)
    auth, auth_port = await start_app(verify)
    yield backend_port, auth_port, asked, entered, release
    release.set()
    await backend.cleanup()
    await auth.cleanup()


def write_manifests(directory: Path, backend_port: int, auth_port: int) -> Path:
    directory.mkdir()
    path = directory / "apps.yaml"
    docs = [app_manifest(name, f"{name}.test", "/", backend_port, extra) for name, extra in apps(auth_port)]
    docs = [
        d.replace(
            "kind: Service\nmetadata:\n  name: maxconn\n",
            "kind: Service\nmetadata:\n  name: maxconn\n" + MAX_CONN,
        )
        for d in docs
    ]
    path.write_text("---\n".join([SECRET, *docs]))
    return path


def line_of(path: Path, text: str, after: str) -> int:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i in range(start, len(lines)) if text in lines[i]) + 1


def test_validate_and_explain(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write_manifests(tmp_path / "m", 8080, 9090)
    result = run_cli(["validate", str(path), "--format", "json"], cli_env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    errors = {(f["code"], f["line"]) for f in findings if f["severity"] == "error"}
    assert errors == {
        ("IC212", line_of(path, "auth-type: digest", "name: nginx-digest")),
        ("IC213", line_of(path, "limit-rps", "name: bad-limit")),
        ("IC213", line_of(path, "auth-url:", "name: bad-auth-url")),
    }, findings
    # Implemented now: neither "unsupported" (IC307/IC220) nor a typo (IC302).
    assert not [f for f in findings if f["code"] in ("IC220", "IC302", "IC307")], findings
    explained = run_cli(
        ["routes", str(path), "--explain", "http://traefik-limit.test/x", "-f", "json"], cli_env
    )
    assert explained.returncode == 0, explained.stderr
    assert "429 with Retry-After beyond 1/60s burst 2 per client.ip" in explained.stdout
    explained = run_cli(["routes", str(path), "--explain", "http://nginx-fwd.test/x"], cli_env)
    assert "forward-auth" in explained.stdout, explained.stdout


async def test_serve(
    tmp_path: Path,
    serve: Callable[..., ServeProcess],
    services: tuple[int, int, list[str], asyncio.Event, asyncio.Event],
) -> None:
    backend_port, auth_port, asked, entered, release = services
    path = write_manifests(tmp_path / "m", backend_port, auth_port)
    sp = await asyncio.to_thread(
        lambda: serve(
            "--entrypoint",
            "web=127.0.0.1:0",
            "--manifests",
            str(path.parent),
            "--api-address",
            "127.0.0.1:0",
            "--api-insecure",
        )
    )
    await asyncio.to_thread(sp.wait_ready)
    api = (await asyncio.to_thread(sp.wait_for, r"API and dashboard on (\S+)/")).group(1)
    async with aiohttp.ClientSession() as s:

        async def get(host: str, **headers: str) -> tuple[int, str, aiohttp.ClientResponse]:
            async with s.get(
                sp.url("/p?q=1"), headers={"Host": f"{host}.test", **headers}, allow_redirects=False
            ) as r:
                return r.status, await r.text(), r

        assert (await get("open"))[:2] == (200, "user=-")
        # Traefik forward auth: the auth answer goes back as it is; a grant passes X-Auth-User on.
        status, body, r = await get("traefik-fwd", X_Auth_User="mallory")
        assert (status, body, r.headers["WWW-Authenticate"]) == (401, "who are you?", "Bearer")
        assert (await get("traefik-fwd", Authorization="Bearer good"))[:2] == (200, "user=alice")
        assert asked[-1] == "/p?q=1"
        # ingress-nginx forward auth: a 401 sends the browser to auth-signin.
        status, _, r = await get("nginx-fwd")
        assert status == 302
        assert (
            r.headers["Location"] == "https://nginx-fwd.test/oauth2/start?rd=http://nginx-fwd.test/p%3Fq%3D1"
        )
        assert (await get("nginx-fwd", Authorization="Bearer good"))[:2] == (200, "user=alice")
        # ingress-nginx basic auth from an auth-map Secret.
        status, _, r = await get("nginx-basic")
        assert (status, r.headers["WWW-Authenticate"]) == (401, 'Basic realm="Staff"')
        good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
        assert (await get("nginx-basic", Authorization=good))[0] == 200
        # Rate limits: Traefik's 429 with Retry-After, ingress-nginx's 503.
        assert [(await get("traefik-limit"))[0] for _ in range(3)] == [200, 200, 429]
        assert int((await get("traefik-limit"))[2].headers["Retry-After"]) > 0
        assert [(await get("nginx-limit"))[0] for _ in range(2)] == [200, 503]
        assert (await get("nginx-deny"))[0] == 403
        for refused in ("nginx-digest", "bad-limit", "bad-auth-url"):
            assert (await get(refused))[0] == 503, refused
        # The Service's max-conn-amount: one request in progress, the next one 429.
        slow = asyncio.create_task(s.get(sp.url("/slow"), headers={"Host": "maxconn.test"}))
        await asyncio.wait_for(entered.wait(), 30)
        assert (await get("maxconn"))[0] == 429
        release.set()
        async with await slow as r:
            assert r.status == 200
        assert (await get("maxconn"))[0] == 200
        async with s.get(f"{api}/metrics") as r:
            metrics = await r.text()
    assert 'router="default/traefik-limit#r0p0"' in metrics
    series = [
        line
        for line in metrics.splitlines()
        if line.startswith("ingressctl_middleware_refused_requests_total")
    ]
    counts = {line.split('router="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in series}
    assert counts == {
        "default/traefik-limit#r0p0": 2.0,
        "default/nginx-limit#r0p0": 1.0,
        "default/maxconn#r0p0": 1.0,
    }, series
    assert sp.proc.poll() is None and "Traceback" not in sp.text
