"""Taking over ingress-nginx's Ingresses, end to end through a real `ingressctl serve` with real
backends: `--ingress-class nginx --controller-name k8s.io/ingress-nginx`, regex paths, rewrite-target
and snippets. Each expected answer cites the ingress-nginx documentation it comes from:

- [paths] user guide, "Ingress Path Matching": use-regex or rewrite-target on any Ingress of a host
  makes all its paths case-insensitive regexes, longest first, first match wins.
- [rewrite] docs/examples/rewrite: path /something(/|$)(.*) with rewrite-target /$2 sends
  /something/new upstream as /new.
- [flags] cli-arguments: --watch-ingress-without-class defaults to false.
- [snippets] ingressctl never executes nginx configuration: 503 unless --ignore-snippets.
- [cors] annotations page, "Enable CORS": defaults cors-allow-origin *, -methods "GET, PUT, POST,
  DELETE, PATCH, OPTIONS", -credentials true, -max-age 1728000; a preflight (OPTIONS) is answered 204.
- [canary] annotations page, "Canary": canary-weight of canary-weight-total (default 100) of the
  requests go to the canary Ingress's Service; 100 means all, 0 none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.serve.conftest import ServeProcess

pytestmark = pytest.mark.timeout(90)


@contextlib.asynccontextmanager
async def path_backends(*names: str) -> AsyncIterator[dict[str, int]]:
    """One backend per name on 127.0.0.1, answering "NAME PATH?QUERY"."""
    runners: list[web.AppRunner] = []
    ports: dict[str, int] = {}
    try:
        for name in names:

            async def handler(request: web.Request, name: str = name) -> web.Response:
                return web.Response(text=f"{name} {request.raw_path}")

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports[name] = runner.addresses[0][1]
        yield ports
    finally:
        for runner in runners:
            await runner.cleanup()


def service(name: str, port: int) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  ports: [{{name: http, port: 80, targetPort: {port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: {port}}}]
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {{ready: true}}
"""


def ingress(name: str, host: str, paths: list[tuple[str, str]], annotations: dict[str, str], cls: str) -> str:
    notes = "".join(f"    {k}: {v!r}\n" for k, v in annotations.items())
    class_line = f"  ingressClassName: {cls}\n" if cls else ""
    items = "".join(
        f"      - path: {p!r}\n        pathType: ImplementationSpecific\n"
        f"        backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}\n"
        for p, svc in paths
    )
    return (
        f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"  annotations:\n    team: web\n{notes}spec:\n{class_line}  rules:\n  - host: {host}\n    http:\n"
        f"      paths:\n{items}"
    )


def manifests(ports: dict[str, int]) -> str:
    return "---\n".join(
        [
            *(service(name, port) for name, port in ports.items()),
            # [paths] example: test-ingress-1 and test-ingress-2 on one host.
            ingress("test-ingress-1", "test.com", [("/foo/bar", "s1"), ("/foo/bar/", "s2")], {}, "nginx"),
            ingress(
                "test-ingress-2",
                "test.com",
                [("/foo/bar/(.+)", "s3")],
                {"nginx.ingress.kubernetes.io/rewrite-target": "/$1"},
                "nginx",
            ),
            # [rewrite] example.
            ingress(
                "rewrite",
                "rewrite.bar.com",
                [("/something(/|$)(.*)", "s1")],
                {
                    "nginx.ingress.kubernetes.io/use-regex": "true",
                    "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                },
                "nginx",
            ),
            # [paths] warning example: the first matching regex wins over the exact text.
            ingress(
                "test-ingress-3",
                "warn.com",
                [("/foo/bar/bar", "s1"), ("/foo/bar/[A-Z0-9]{3}", "s2")],
                {"nginx.ingress.kubernetes.io/use-regex": "true"},
                "nginx",
            ),
            # [snippets]
            ingress(
                "snippet",
                "snippet.com",
                [("/", "s1")],
                {"nginx.ingress.kubernetes.io/configuration-snippet": 'more_set_headers "X-A: b";'},
                "nginx",
            ),
            # [canary]
            ingress("main-all", "canary.com", [("/", "s1")], {}, "nginx"),
            ingress(
                "canary-all",
                "canary.com",
                [("/", "s2")],
                {
                    "nginx.ingress.kubernetes.io/canary": "true",
                    "nginx.ingress.kubernetes.io/canary-weight": "100",
                },
                "nginx",
            ),
            ingress("main-none", "zero.com", [("/", "s1")], {}, "nginx"),
            ingress(
                "canary-none",
                "zero.com",
                [("/", "s3")],
                {
                    "nginx.ingress.kubernetes.io/canary": "true",
                    "nginx.ingress.kubernetes.io/canary-weight": "0",
                },
                "nginx",
            ),
            # [cors]
            ingress(
                "cors-all",
                "cors-all.com",
                [("/", "s1")],
                {"nginx.ingress.kubernetes.io/enable-cors": "true"},
                "nginx",
            ),
            ingress(
                "cors-some",
                "cors-some.com",
                [("/", "s1")],
                {
                    "nginx.ingress.kubernetes.io/enable-cors": "true",
                    "nginx.ingress.kubernetes.io/cors-allow-origin": "https://app.example.com, https://*.example.org",
                    "nginx.ingress.kubernetes.io/cors-expose-headers": "X-Total",
                },
                "nginx",
            ),
            # [flags]: not served without --watch-ingress-without-class; another class: never.
            ingress("classless", "classless.com", [("/", "s1")], {}, ""),
            ingress("other", "other.com", [("/", "s1")], {}, "traefik"),
        ]
    )


CASES = [
    # (host, path, status, body) — [paths]
    ("test.com", "/foo/bar/1", 200, "s3 /1"),
    ("test.com", "/foo/bar/", 200, "s2 /foo/bar/"),
    ("test.com", "/foo/bar", 200, "s1 /foo/bar"),
    ("test.com", "/FOO/BAR", 200, "s1 /FOO/BAR"),  # ~* is case-insensitive
    # [rewrite]: the query string is kept
    ("rewrite.bar.com", "/something", 200, "s1 /"),
    ("rewrite.bar.com", "/something/", 200, "s1 /"),
    ("rewrite.bar.com", "/something/new?x=1", 200, "s1 /new?x=1"),
    ("rewrite.bar.com", "/other", 404, None),
    # [paths] warning
    ("warn.com", "/foo/bar/bar", 200, "s2 /foo/bar/bar"),
    # [snippets]
    ("snippet.com", "/", 503, None),
    # [canary]: every request, not only the first
    *[("canary.com", "/x", 200, "s2 /x")] * 4,
    *[("zero.com", "/x", 200, "s1 /x")] * 4,
    # [flags]
    ("classless.com", "/", 404, None),
    ("other.com", "/", 404, None),
]


async def fetch(sp: ServeProcess, host: str, target: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(sp.url(target), headers={"Host": host}, allow_redirects=False) as resp,
    ):
        return resp.status, await resp.text()


async def start(serve: Callable[..., ServeProcess], directory: Path, *flags: str) -> ServeProcess:
    sp = await asyncio.to_thread(
        lambda: serve(
            "--entrypoint",
            "web=127.0.0.1:0",
            "--manifests",
            str(directory),
            "--ingress-class",
            "nginx",
            "--controller-name",
            "k8s.io/ingress-nginx",
            *flags,
        )
    )
    await asyncio.to_thread(sp.wait_ready)
    return sp


async def test_takeover_serves_ingress_nginx_ingresses_as_documented(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1", "s2", "s3") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        (directory / "apps.yaml").write_text(manifests(ports))
        sp = await start(serve, directory)
        for host, target, status, body in CASES:
            got_status, got_body = await fetch(sp, host, target)
            assert got_status == status, (host, target, got_status, got_body)
            if body is not None:
                assert got_body == body, (host, target)
        assert "Traceback" not in sp.text


async def test_flags_open_classless_and_snippet_routes(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1", "s2", "s3") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        (directory / "apps.yaml").write_text(manifests(ports))
        sp = await start(serve, directory, "--watch-ingress-without-class=true", "--ignore-snippets")
        assert await fetch(sp, "classless.com", "/") == (200, "s1 /")
        status, body = await fetch(sp, "snippet.com", "/x")
        assert (status, body) == (200, "s1 /x")
        assert (await fetch(sp, "other.com", "/"))[0] == 404


async def cors_request(
    sp: ServeProcess, method: str, host: str, origin: str | None
) -> tuple[int, dict[str, str], str]:
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sp.url("/api"), headers=headers) as resp,
    ):
        found = {k: v for k, v in resp.headers.items() if k.startswith("Access-Control-") or k == "Vary"}
        return resp.status, found, await resp.text()


CORS_DEFAULTS = {
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Methods": "GET, PUT, POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
    "Cache-Control,Content-Type,Range,Authorization",
}


async def test_cors_preflight_is_answered_and_answers_carry_the_headers(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1", "s2", "s3") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        (directory / "apps.yaml").write_text(manifests(ports))
        sp = await start(serve, directory)
        # [cors] defaults: any origin, preflight 204 from the proxy (the backend would answer 200 "s1 /api")
        status, headers, body = await cors_request(sp, "OPTIONS", "cors-all.com", "https://x.test")
        assert (status, body) == (204, "")
        assert headers == {
            "Access-Control-Allow-Origin": "*",
            **CORS_DEFAULTS,
            "Access-Control-Max-Age": "1728000",
        }
        status, headers, body = await cors_request(sp, "GET", "cors-all.com", "https://x.test")
        assert (status, body) == (200, "s1 /api")
        assert headers == {"Access-Control-Allow-Origin": "*", **CORS_DEFAULTS}
        # listed origins (exact and wildcard) are echoed; others get no CORS headers and reach the backend
        for origin in ("https://app.example.com", "https://a.example.org"):
            status, headers, _ = await cors_request(sp, "GET", "cors-some.com", origin)
            assert status == 200
            assert headers == {
                "Access-Control-Allow-Origin": origin,
                "Vary": "Origin",
                **CORS_DEFAULTS,
                "Access-Control-Expose-Headers": "X-Total",
            }
        status, headers, body = await cors_request(sp, "OPTIONS", "cors-some.com", "https://evil.test")
        assert (status, headers, body) == (200, {}, "s1 /api")
        status, headers, _ = await cors_request(sp, "GET", "cors-some.com", "https://example.org")
        assert headers == {}
