"""Backend protocols through a real `ingressctl serve`: an h2c backend (the Service port's
appProtocol) and an HTTPS backend verified against the CA of an ingress-nginx proxy-ssl-secret,
reached with curl; `routes --explain` shows the scheme and TLS settings serve applies."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from tests.needs import tool
from tests.proxy.h2_backend import start_h2_backend
from tests.serve.conftest import ServeProcess, run_cli
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(90)


def app(name: str, host: str, port: int, annotations: str = "", app_protocol: str = "") -> str:
    return app_manifest(name, host, "/", port, annotations, port_name="web", app_protocol=app_protocol)


def curl(url: str, host: str) -> tuple[int, str]:
    proc = subprocess.run(
        [tool("curl", "curl"), "-sS", "--max-time", "20", "-H", f"Host: {host}", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, proc.stdout


async def test_h2c_and_verified_https_backends(
    tmp_path: Path, serve: Callable[..., ServeProcess], cli_env: dict[str, str]
) -> None:
    h2c = await start_h2_backend()
    ca = CA("backend CA")
    chain, key = ca.issue(["secure.default.svc"])
    (tmp_path / "b.crt").write_bytes(chain)
    (tmp_path / "b.key").write_bytes(key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "b.crt", tmp_path / "b.key")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"tls backend {request.path}")

    tls_app = web.Application()
    tls_app.router.add_get("/{tail:.*}", hello)
    runner = web.AppRunner(tls_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    tls_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: backend-ca, namespace: default}\n"
        f"data:\n  ca.crt: {base64.b64encode(ca.pem).decode()}\n"
    )
    https_annotations = (
        "    nginx.ingress.kubernetes.io/backend-protocol: HTTPS\n"
        "    nginx.ingress.kubernetes.io/proxy-ssl-secret: backend-ca\n"
    )
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "apps.yaml").write_text(
        "---\n".join(
            [
                app("grpc", "h2c.test", h2c.port, app_protocol="kubernetes.io/h2c"),
                app("secure", "secure.test", tls_port, https_annotations),
                secret,
            ]
        )
    )
    sp = serve("--entrypoint", "web=127.0.0.1:0", "--manifests", str(manifests))
    try:
        await asyncio.to_thread(sp.wait_ready)
        code, body = await asyncio.to_thread(curl, sp.url("/echo"), "h2c.test")
        assert code == 0, body
        info = json.loads(body)
        assert info["authority"] == "h2c.test" and info["path"] == "/echo"
        assert await asyncio.to_thread(curl, sp.url("/x"), "secure.test") == (0, "tls backend /x")
    finally:
        await runner.cleanup()
        assert h2c.server is not None
        h2c.server.close()
    explained = run_cli(["routes", str(manifests), "--explain", "http://secure.test/x"], cli_env)
    assert (
        "backend: default/secure:80 over https "
        "(verify against the CA of Secret default/backend-ca, SNI secure.default.svc)" in explained.stdout
    ), explained.stdout
    listed = run_cli(["routes", str(manifests), "--format", "json"], cli_env)
    backends = {r["host"]: r["backend"] for r in json.loads(listed.stdout)["routes"]}
    assert backends["h2c.test"]["scheme"] == "h2c" and backends["secure.test"]["scheme"] == "https"
