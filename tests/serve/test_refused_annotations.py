"""Fail closed, end to end: an Ingress without a class that carries ingress-nginx's (or Traefik's)
protections, or an auth realm with CR/LF, answers 503 from a real `ingressctl serve`, while the other
routes keep working; `ingressctl validate` reports each as an error at the annotation's line."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess, run_cli
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(60)

PASSWORD = "wonderland"
HTPASSWD = f"alice:{{SHA}}{base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()}\n".encode()
SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: default}}
data:
  auth: {base64.b64encode(HTPASSWD).decode()}
"""
NGINX_WAF = '    nginx.ingress.kubernetes.io/enable-modsecurity: "true"\n'
NGINX_GLOBAL_LIMIT = '    nginx.ingress.kubernetes.io/global-rate-limit: "100"\n'
NGINX_SNIPPET = "    nginx.ingress.kubernetes.io/configuration-snippet: |\n      deny all;\n"
TRAEFIK_MIDDLEWARE = "    traefik.ingress.kubernetes.io/router.middlewares: default-auth@kubernetescrd\n"
CRLF_REALM = (
    "    ingress.kubernetes.io/auth-type: basic\n    ingress.kubernetes.io/auth-secret: creds\n"
    '    ingress.kubernetes.io/auth-realm: "Staff\\r\\nX-Injected: 1"\n'
)
HARMLESS = "    nginx.ingress.kubernetes.io/proxy-buffer-size: 8k\n"

APPS = [
    ("open", HARMLESS),
    ("nginx-waf", NGINX_WAF),
    ("nginx-limit", NGINX_GLOBAL_LIMIT),
    ("nginx-snippet", NGINX_SNIPPET),
    ("traefik-mw", TRAEFIK_MIDDLEWARE),
    ("crlf-realm", CRLF_REALM),
]


def write_manifests(directory: Path, port: int) -> Path:
    directory.mkdir()
    path = directory / "apps.yaml"
    path.write_text(
        "---\n".join(
            [SECRET, *(app_manifest(name, f"{name}.test", "/", port, extra) for name, extra in APPS)]
        )
    )
    return path


def line_of(path: Path, text: str, after: str) -> int:
    """1-based line of the first `text` after the line holding `after`."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i in range(start, len(lines)) if text in lines[i]) + 1


def test_validate_reports_refused_annotations_as_errors(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = write_manifests(tmp_path / "manifests", 8080)
    result = run_cli(["validate", str(path), "--format", "json"], cli_env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    errors = {(f["code"], f["line"]) for f in findings if f["severity"] == "error"}
    expected = {
        ("IC220", line_of(path, "enable-modsecurity", "name: nginx-waf")),
        ("IC220", line_of(path, "global-rate-limit", "name: nginx-limit")),
        ("IC220", line_of(path, "configuration-snippet", "name: nginx-snippet")),
        ("IC220", line_of(path, "router.middlewares", "name: traefik-mw")),
        ("IC219", line_of(path, "auth-realm", "name: crlf-realm")),
    }
    assert expected <= errors, sorted(errors)
    harmless = [f for f in findings if "proxy-buffer-size" in f["message"]]
    assert [(f["code"], f["severity"]) for f in harmless] == [("IC307", "warning")]
    assert "served without it" in harmless[0]["message"]
    assert not [f for f in findings if f["code"] in ("IC219", "IC220") and "open.test" in f["message"]]


async def test_serve_answers_503_for_refused_routes_and_serves_the_others(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    backend = await Backend("127.0.0.1").start()
    try:
        path = write_manifests(tmp_path / "manifests", backend.port)
        sp = await asyncio.to_thread(
            lambda: serve("--entrypoint", "web=127.0.0.1:0", "--manifests", str(path.parent))
        )
        await asyncio.to_thread(sp.wait_ready)
        credentials = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        async with aiohttp.ClientSession() as session:
            for _ in range(2):  # every request, not only the first
                for name, _extra in APPS:
                    for headers in ({}, {"Authorization": credentials}):
                        async with session.get(
                            sp.url("/"), headers={"Host": f"{name}.test", **headers}
                        ) as resp:
                            body = await resp.text()
                            want = 200 if name == "open" else 503
                            assert resp.status == want, (name, resp.status, body)
                            assert "X-Injected" not in resp.headers
        assert backend.hits == 4  # only the open route reached the backend
        assert sp.proc.poll() is None
        assert "Traceback" not in sp.text, sp.text
    finally:
        await backend.stop()
