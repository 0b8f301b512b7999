"""Traefik 1.7 forward auth over TLS through a real `ingressctl serve`: an https auth service on
loopback that requires a client certificate of its own CA, a route presenting the certificate of
its auth-tls-secret (auth-tls-insecure: the service's certificate is self-made), and the routes
that cannot complete that handshake answering 503, never open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.serve.conftest import ServeProcess, run_cli
from tests.serve.test_client_auth_per_host import secret
from tests.serve.test_rewrites import echo
from tests.support.manifests import app_manifest
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(90)
T1 = "ingress.kubernetes.io/"


@contextlib.asynccontextmanager
async def mtls_auth_service(tmp: Path, clients: CA) -> AsyncIterator[int]:
    """https on 127.0.0.1 asking for a certificate of `clients`; grants with X-Auth-User = its CN."""
    crt, key = CA("auth server CA").issue(["auth.test"])
    (tmp / "auth.pem").write_bytes(crt + key)
    (tmp / "clients-ca.pem").write_bytes(clients.pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "auth.pem")
    ctx.load_verify_locations(tmp / "clients-ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED

    async def verify(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(item[0] for item in (peer or {}).get("subject", ()))
        return web.Response(text="ok", headers={"X-Auth-User": subject.get("commonName", "")})

    app = web.Application()
    app.router.add_get("/verify", verify)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def manifests(directory: Path, backend: int, auth: int, client: tuple[bytes, bytes]) -> Path:
    forward = f"    {T1}auth-type: forward\n    {T1}auth-url: https://127.0.0.1:{auth}/verify\n"
    forward += f"    {T1}auth-response-headers: X-Auth-User\n"
    apps = [
        (
            "withcert",
            forward + f"    {T1}auth-tls-secret: auth-client\n" + f'    {T1}auth-tls-insecure: "true"\n',
        ),
        ("nocert", forward + f'    {T1}auth-tls-insecure: "true"\n'),
        ("verified", forward + f"    {T1}auth-tls-secret: auth-client\n"),
        ("missing", forward + f"    {T1}auth-tls-secret: nowhere\n" + f'    {T1}auth-tls-insecure: "true"\n'),
    ]
    docs = [secret("auth-client", {"tls.crt": client[0], "tls.key": client[1]}, "kubernetes.io/tls")]
    docs += [app_manifest(name, f"{name}.test", "/", backend, extra) for name, extra in apps]
    directory.mkdir()
    path = directory / "apps.yaml"
    path.write_text("---\n".join(docs))
    return path


async def test_forward_auth_presents_the_secret_certificate(
    tmp_path: Path, serve: Callable[..., ServeProcess], cli_env: dict[str, str]
) -> None:
    clients = CA("auth clients CA")
    client = clients.issue(["ingressctl-proxy"])
    async with echo() as backend, mtls_auth_service(tmp_path, clients) as auth:
        path = manifests(tmp_path / "manifests", backend, auth, client)
        explained = run_cli(["routes", str(path), "--explain", "withcert.test/", "--format", "json"], cli_env)
        (stage,) = [m for m in json.loads(explained.stdout)["route"]["chain"] if m["name"] == "forward-auth"]
        unverified = "certificate NOT verified (insecureSkipVerify)"
        assert stage["tls"] == f"{unverified}, client certificate from Secret default/auth-client"
        sp = await asyncio.to_thread(
            lambda: serve("--entrypoint", "web=127.0.0.1:0", "--manifests", str(path.parent))
        )
        await asyncio.to_thread(sp.wait_ready)
        async with aiohttp.ClientSession() as session:

            async def get(host: str) -> tuple[int, str]:
                async with session.get(sp.url("/"), headers={"Host": host}) as resp:
                    return resp.status, await resp.text()

            status, text = await get("withcert.test")
            assert status == 200, text
            assert json.loads(text)["headers"]["X-Auth-User"] == "ingressctl-proxy"
            # No client certificate: the auth service refuses the handshake; never open.
            assert (await get("nocert.test"))[0] == 503
            # auth-tls-secret alone verifies the service against the system CAs: this one is not.
            assert (await get("verified.test"))[0] == 503
            # A missing Secret fails closed at compile time.
            assert (await get("missing.test"))[0] == 503
        assert sp.proc.poll() is None
        assert "Traceback" not in sp.text, sp.text
