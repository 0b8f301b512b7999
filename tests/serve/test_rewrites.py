"""Paths, redirects and headers end to end: a real `ingressctl serve` with a plain and a TLS entrypoint,
Ingresses carrying the Traefik 1.7 / v2 / ingress-nginx annotations, and a real backend that echoes
what it received. `validate` and `routes --explain` read the same manifests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
from aiohttp import web

from tests.serve.conftest import ServeProcess, run_cli
from tests.serve.test_refused_annotations import line_of
from tests.support.backends import loopback_backend
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(90)

T = "traefik.ingress.kubernetes.io/"
V1 = "ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"


def annotations(**pairs: str) -> str:
    return "".join(f"    {key}: {json.dumps(value)}\n" for key, value in pairs.items())


# (name, host, path, annotations)
APPS: list[tuple[str, str, str, str]] = [
    (
        "hdr",
        "hdr.test",
        "/",
        annotations(
            **{
                V1 + "custom-request-headers": "X-Env: prod||User-Agent:",
                V1 + "custom-response-headers": "X-Served-By: ingressctl||X-Powered-By:",
                V1 + "hsts-max-age": "300",
                V1 + "hsts-include-subdomains": "true",
                V1 + "frame-deny": "true",
                V1 + "content-type-nosniff": "true",
                V1 + "content-security-policy": "default-src 'self'",
            }
        ),
    ),
    (
        "ssl",
        "ssl.test",
        "/",
        annotations(**{V1 + "ssl-redirect": "true", V1 + "ssl-proxy-headers": "X-Forwarded-Ssl: on"}),
    ),
    ("nginx-ssl", "nginx-ssl.test", "/", annotations(**{NGINX + "force-ssl-redirect": "true"})),
    ("allowed", '"*.allowed.test"', "/", annotations(**{V1 + "allowed-hosts": "ok.allowed.test"})),
    ("target", "paths.test", "/api", annotations(**{T + "rewrite-target": "/v2"})),
    (
        "strip-add",
        "paths.test",
        "/m",
        annotations(
            **{"traefik.frontend.rule.type": "PathPrefixStrip", T + "request-modifier": "AddPrefix: /in"}
        ),
    ),
    (
        "regex-path",
        "paths.test",
        "/r",
        annotations(**{T + "request-modifier": "ReplacePathRegex: ^/r/(.*) /b/$1"}),
    ),
    ("approot", "approot.test", "/", annotations(**{T + "app-root": "/app"})),
    (
        "regexredir",
        "regexredir.test",
        "/",
        annotations(
            **{
                T + "redirect-regex": "^http://regexredir.test(:[0-9]+)?/old/(.*)",
                T + "redirect-replacement": "https://new.test/$2",
                T + "redirect-permanent": "true",
            }
        ),
    ),
    (
        "moved",
        "moved.test",
        "/",
        annotations(
            **{NGINX + "permanent-redirect": "https://new.test/", NGINX + "permanent-redirect-code": "308"}
        ),
    ),
    (
        "vhost",
        "vhost.test",
        "/",
        annotations(**{NGINX + "upstream-vhost": "internal.svc", NGINX + "x-forwarded-prefix": "/shop"}),
    ),
    ("nohost", "nohost.test", "/", annotations(**{T + "preserve-host": "false"})),
    ("www", "www.shop.test", "/", annotations(**{NGINX + "from-to-www-redirect": "true"})),
    ("bad", "bad.test", "/", annotations(**{V1 + "hsts-max-age": "forever"})),
]


@contextlib.asynccontextmanager
async def echo() -> AsyncIterator[int]:
    """A backend that answers with the path, Host and headers it received, and headers of its own."""

    async def handler(request: web.Request) -> web.Response:
        body: dict[str, Any] = {
            "path": request.raw_path,
            "host": request.headers.get("Host", ""),
            "headers": dict(request.headers),
        }
        if request.path.startswith("/big"):
            body["padding"] = ["compressible text"] * 500
        headers = {"X-Powered-By": "backend", "X-Frame-Options": "SAMEORIGIN"}
        return web.json_response(body, headers=headers)

    async with loopback_backend(handler) as port:
        yield port


def write_manifests(directory: Path, port: int) -> Path:
    directory.mkdir()
    path = directory / "apps.yaml"
    path.write_text("---\n".join(app_manifest(name, host, p, port, extra) for name, host, p, extra in APPS))
    return path


def test_validate_reports_the_bad_security_value_at_its_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write_manifests(tmp_path / "manifests", 8080)
    result = run_cli(["validate", str(path), "--format", "json"], cli_env)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    errors = [(f["code"], f["line"]) for f in findings if f["severity"] == "error"]
    assert errors == [("IC213", line_of(path, "hsts-max-age", "name: bad"))]
    # Implemented keys are neither typos (IC302) nor "not supported" (IC307).
    assert not [f for f in findings if f["code"] in ("IC302", "IC307")], findings


def test_routes_explain_shows_each_effect(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write_manifests(tmp_path / "manifests", 8080)
    text = run_cli(["routes", str(path), "--explain", "http://paths.test/api/users"], cli_env).stdout
    assert "replace-path-regex(/v2$1): replaces a path matching ^/api(.*) with /v2$1" in text
    assert "path sent upstream: /v2/users" in text
    strip = run_cli(["routes", str(path), "--explain", "paths.test/m/a", "--format", "json"], cli_env)
    assert json.loads(strip.stdout)["upstream_path"] == "/in/a"  # strip-prefix, then AddPrefix
    hdr = run_cli(["routes", str(path), "--explain", "hdr.test/", "--format", "json"], cli_env)
    chain = json.loads(hdr.stdout)["route"]["chain"]
    assert [m["name"] for m in chain] == ["response-headers", "request-headers"]
    assert "X-Frame-Options: DENY" in chain[0]["headers"]
    assert chain[1]["headers"] == ["X-Env: prod", "User-Agent removed"]


async def test_serve_applies_paths_redirects_and_headers(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with echo() as port:
        path = write_manifests(tmp_path / "manifests", port)
        sp = await asyncio.to_thread(
            lambda: serve(
                "--entrypoint",
                "web=127.0.0.1:0",
                "--entrypoint",
                "websecure=127.0.0.1:0,tls",
                "--manifests",
                str(path.parent),
            )
        )
        await asyncio.to_thread(sp.wait_ready)
        https_port = int(sp.addresses["websecure"].rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as session:

            async def get(
                host: str, target: str, secure: bool = False, method: str = "GET", **headers: str
            ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
                url = f"https://{sp.addresses['websecure']}{target}" if secure else sp.url(target)
                async with session.request(
                    method, url, headers={"Host": host, **headers}, allow_redirects=False, ssl=False
                ) as resp:
                    text = await resp.text()
                    body = json.loads(text) if resp.content_type == "application/json" else text
                    return resp.status, body, resp.headers

            # Custom and security headers; HSTS only over TLS.
            status, body, headers = await get("hdr.test", "/x", **{"User-Agent": "curl"})
            assert status == 200
            assert body["headers"]["X-Env"] == "prod" and "User-Agent" not in body["headers"]
            assert headers["X-Frame-Options"] == "DENY"  # the backend's SAMEORIGIN replaced
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Content-Security-Policy"] == "default-src 'self'"
            assert headers["X-Served-By"] == "ingressctl" and "X-Powered-By" not in headers
            assert "Strict-Transport-Security" not in headers
            status, _, headers = await get("hdr.test", "/x", secure=True)
            assert status == 200
            assert headers["Strict-Transport-Security"] == "max-age=300; includeSubDomains"

            # ssl-redirect: 301 (308 for POST) to the TLS entrypoint; not over TLS, not with the proxy header.
            status, _, headers = await get("ssl.test", "/p?q=1")
            assert (status, headers["Location"]) == (301, f"https://ssl.test:{https_port}/p?q=1")
            status, _, _ = await get("ssl.test", "/p", method="POST")
            assert status == 308
            assert (await get("ssl.test", "/p", secure=True))[0] == 200
            assert (await get("ssl.test", "/p", **{"X-Forwarded-Ssl": "on"}))[0] == 200
            status, _, headers = await get("nginx-ssl.test", "/n")
            assert (status, headers["Location"]) == (308, f"https://nginx-ssl.test:{https_port}/n")

            # allowed-hosts
            assert (await get("ok.allowed.test", "/"))[0] == 200
            assert (await get("evil.allowed.test", "/"))[0] == 421

            # Path rewrites, the replaced path in X-Replaced-Path.
            status, body, _ = await get("paths.test", "/api/users?x=1")
            assert (status, body["path"]) == (200, "/v2/users?x=1")
            assert body["headers"]["X-Replaced-Path"] == "/api/users"
            status, body, _ = await get("paths.test", "/m/a/b")
            assert body["path"] == "/in/a/b"
            status, body, _ = await get("paths.test", "/r/c/d")
            assert (body["path"], body["headers"]["X-Replaced-Path"]) == ("/b/c/d", "/r/c/d")

            # Redirects
            status, _, headers = await get("approot.test", "/")
            assert (status, headers["Location"]) == (302, f"http://approot.test{''}/app")
            assert (await get("approot.test", "/other"))[0] == 200
            status, _, headers = await get("regexredir.test", "/old/page?a=b")
            assert (status, headers["Location"]) == (301, "https://new.test/page?a=b")
            assert (await get("regexredir.test", "/current"))[0] == 200
            status, _, headers = await get("moved.test", "/anything")
            assert (status, headers["Location"]) == (308, "https://new.test/")

            # The Host the backend sees
            status, body, _ = await get("vhost.test", "/")
            assert (body["host"], body["headers"]["X-Forwarded-Prefix"]) == ("internal.svc", "/shop")
            assert body["headers"]["X-Forwarded-Host"] == "vhost.test"
            status, body, _ = await get("nohost.test", "/")
            assert body["host"] == f"127.0.0.1:{port}"

            # from-to-www-redirect: the bare host goes to the www one, path, query and port kept.
            web_port = sp.addresses["web"].rsplit(":", 1)[1]
            status, _, headers = await get(f"shop.test:{web_port}", "/a?b")
            assert (status, headers["Location"]) == (308, f"http://www.shop.test:{web_port}/a?b")
            assert (await get("www.shop.test", "/a"))[0] == 200

            # A bad security value fails closed.
            assert (await get("bad.test", "/"))[0] == 503
        assert sp.proc.poll() is None
        assert "Traceback" not in sp.text, sp.text


async def test_serve_compresses_on_an_entrypoint_with_compress(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with echo() as port:
        path = write_manifests(tmp_path / "manifests", port)
        config = tmp_path / "traefik.toml"
        config.write_text(
            'defaultEntryPoints = ["web"]\n[entryPoints.web]\naddress = "127.0.0.1:0"\ncompress = true\n'
        )
        sp = await asyncio.to_thread(lambda: serve("--config", str(config), "--manifests", str(path.parent)))
        await asyncio.to_thread(sp.wait_ready)
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            headers = {"Host": "hdr.test", "Accept-Encoding": "br"}
            async with session.get(sp.url("/big"), headers=headers) as resp:
                raw = await resp.read()
                assert resp.headers["Content-Encoding"] == "br"
                assert resp.headers["X-Frame-Options"] == "DENY"  # the route's headers, too
                body = json.loads(brotli.decompress(raw))
                assert len(body["padding"]) == 500 and len(raw) < 1000
                # Accept-Encoding reaches the backend unchanged (what it compresses is not compressed again).
                assert body["headers"]["Accept-Encoding"] == "br"
            async with session.get(sp.url("/small"), headers=headers) as resp:
                assert "Content-Encoding" not in resp.headers  # under the minimum size
        assert "Traceback" not in sp.text, sp.text
