"""`router.tls: "true"` routes are served on TLS entrypoints only; others on every default entrypoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from ingressctl.model.config import EntryPoint, EntryPointTLS, KubernetesConfig, StaticConfig
from ingressctl.providers.manifests import ManifestsProvider
from ingressctl.server import Server, ServerParts
from ingressctl.server.run import server_compile_options
from ingressctl.tls.store import CertificateStore
from tests.support.manifests import app_manifest

from .test_tls import client_context, tls_get

pytestmark = [pytest.mark.timeout(30), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TLS_ONLY = '    traefik.ingress.kubernetes.io/router.tls: "true"\n'


async def test_router_tls_routes_only_on_tls_entrypoints(
    tmp_path: Path, echo_backend: Callable[..., Awaitable[int]]
) -> None:
    port = await echo_backend("app")
    manifests = tmp_path / "apps.yaml"
    manifests.write_text(
        app_manifest("secure", "secure.test", "/", port, TLS_ONLY)
        + "---\n"
        + app_manifest("plain", "plain.test", "/", port)
    )
    static = StaticConfig(
        entrypoints=(
            EntryPoint("web", "127.0.0.1:0"),
            EntryPoint("websecure", "127.0.0.1:0", tls=EntryPointTLS()),
        ),
        manifests=(str(manifests),),
        throttle_seconds=0.01,
    )
    server = Server(
        static, ServerParts(providers=[ManifestsProvider([str(manifests)])], tls=CertificateStore())
    )
    await server.start()
    try:
        assert server.watcher is not None
        await server.watcher.wait_applied(1, 10)
        insecure = client_context(None)
        assert (await tls_get(server, "secure.test", "secure.test", insecure))[:2] == (200, b"app /hello")
        assert (await tls_get(server, "plain.test", "plain.test", insecure))[0] == 200
        async with aiohttp.ClientSession() as session:
            for host, want in (("secure.test", 404), ("plain.test", 200)):
                url = f"http://{server.state.bound['web']}/hello"
                async with session.get(url, headers={"Host": host}) as resp:
                    assert resp.status == want, host
    finally:
        await server.stop()


def test_server_compile_options() -> None:
    static = StaticConfig(
        entrypoints=(
            EntryPoint("web", ":80"),
            EntryPoint("websecure", ":443", tls=EntryPointTLS()),
            EntryPoint("admin", ":8443", tls=EntryPointTLS()),
        )
    )
    options = server_compile_options(static)
    assert options.tls_entrypoints == ("websecure", "admin")
    assert options.require_services is False  # files may leave Services out
    clustered = server_compile_options(StaticConfig(kubernetes=KubernetesConfig()))
    assert clustered.require_services is True and clustered.tls_entrypoints == ()
