"""ACME with two replicas and certificates in a Secret, against Pebble.

Replica A leads (it alone orders); replica B follows and is the one listening where Pebble sends the
HTTP-01 validation: B must answer for A's order from the shared Secret. Then B serves the certificate
A obtained (a real TLS client trusting Pebble's root), read from the Secret.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, service
from tests.pebble import Pebble
from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess

pytestmark = pytest.mark.timeout(120)

HOST = "shop.example.test"


def config(
    tmp_path: Path,
    name: str,
    pebble: Pebble,
    http_address: str,
    trigger: str = "onHostRule",
    https_address: str = "127.0.0.1:0",
    challenge: str = '[acme.httpChallenge]\n  entryPoint = "http"',
) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"""
[entryPoints]
  [entryPoints.http]
  address = "{http_address}"
  [entryPoints.https]
  address = "{https_address}"
    [entryPoints.https.tls]

[acme]
email = "ops@example.test"
storage = "secret:ingressctl/acme"
entryPoint = "https"
caServer = "{pebble.directory_url}"
caBundle = "{pebble.api_ca}"
{trigger} = true
{challenge}
"""
    )
    return path


@dataclass
class Replicas:
    """What the HA tests share: the API server, Pebble, a backend, and `serve` to start replicas."""

    tmp_path: Path
    kube_api: KubeAPIServer
    pebble: Pebble
    backend: Backend
    serve: Callable[..., ServeProcess]

    def start(self, name: str, http: str, trigger: str = "onHostRule", **settings: str) -> ServeProcess:
        self.kube_api.add_token(f"token-{name}", name)
        kubeconfig = self.kube_api.write_kubeconfig(token=f"token-{name}", context=name)
        return self.serve(
            "--config",
            str(config(self.tmp_path, name, self.pebble, http, trigger, **settings)),
            "--kubernetes",
            "--kubeconfig",
            str(kubeconfig),
            "--leader-election-lease-duration",
            "4",
            env={"POD_NAME": name, "POD_NAMESPACE": "ingressctl", "INGRESSCTL_ACME_RELOAD_SECONDS": "0.3"},
        )

    def shop_service(self) -> None:
        self.kube_api.apply_many(
            [
                service("shop", "shop"),
                endpoint_slice("shop-1", "shop", ["127.0.0.1"], "shop", port=self.backend.port),
            ]
        )

    async def leader_and_follower(
        self, trigger: str = "onHostRule", follower_http: str = "127.0.0.1:0", **settings: str
    ) -> tuple[ServeProcess, ServeProcess]:
        """Replica A, once it leads, then replica B (where Pebble validates); both listening, with
        their bound addresses in `.addresses`. `settings` go to both configs except `https_address`,
        which is the follower's."""
        https_address = settings.pop("https_address", "127.0.0.1:0")
        leader = self.start("replica-a", "127.0.0.1:0", trigger, **settings)
        await asyncio.to_thread(leader.wait_for, r"became the leader")
        follower = self.start("replica-b", follower_http, trigger, https_address=https_address, **settings)
        for sp in (leader, follower):
            m = await asyncio.to_thread(sp.wait_for, r"listening: (.*)")
            sp.addresses.update(part.partition("=")[::2] for part in m.group(1).split(", "))
        return leader, follower


@pytest.fixture
def ha(
    tmp_path: Path,
    kube_api: KubeAPIServer,
    pebble: Pebble,
    backend: Backend,
    serve: Callable[..., ServeProcess],
) -> Replicas:
    return Replicas(tmp_path, kube_api, pebble, backend, serve)


def shared_secret_readers(kube_api: KubeAPIServer) -> set[str]:
    return {
        r.user
        for r in kube_api.request_log()
        if r.method == "GET" and r.path.endswith("/secrets/acme-http01")
    }


def tls_ingress() -> dict[str, Any]:
    """An Ingress with a TLS section for HOST and no Secret: ACME's to provide."""
    backend = {"service": {"name": "shop", "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {
            "tls": [{"hosts": [HOST]}],
            "rules": [
                {"host": HOST, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ],
        },
    }


async def served_with_a_valid_certificate(address: str, root: Path, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await handshake(address, root)
        except (ssl.SSLError, OSError) as exc:
            assert time.monotonic() < deadline, f"no valid certificate served at {address}: {exc}"
            await asyncio.sleep(0.2)


async def handshake(address: str, root: Path) -> bytes:
    host, _, port = address.rpartition(":")
    ctx = ssl.create_default_context(cafile=str(root))
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, int(port), ssl=ctx, server_hostname=HOST), 5
    )
    writer.write(f"GET /hello HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    return data


async def test_leader_orders_follower_answers_http01_and_serves_the_certificate(ha: Replicas) -> None:
    ha.shop_service()
    leader, follower = await ha.leader_and_follower(follower_http=f"127.0.0.1:{ha.pebble.http_port}")

    ha.kube_api.apply(tls_ingress())
    await asyncio.to_thread(leader.wait_for, r"ACME: obtained a certificate for shop.example.test", 60.0)
    assert not any("ACME: requesting" in line for line in follower.lines)  # the follower never orders
    # Pebble validated through the follower (the only one on its HTTP-01 port), from the shared Secret.
    assert ha.kube_api.get("Secret", "ingressctl", "acme-http01") is not None
    assert "replica-b" in shared_secret_readers(ha.kube_api)  # the leader reads it too, to update it

    root = ha.pebble.root_file()
    data = await served_with_a_valid_certificate(follower.addresses["https"], root, 15.0)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(f"127.0.0.1 {HOST}".encode())
    assert (await handshake(leader.addresses["https"], root)).startswith(b"HTTP/1.1 200")

    # The leader goes away: the follower takes the Lease, adopts the stored account and certificate
    # (no new order) and keeps serving it.
    leader.signal(signal.SIGTERM)
    await asyncio.to_thread(follower.wait_for, r"ACME: this replica leads", 15.0)
    # Wait for the exit: stop() would send a second SIGTERM, which ends a draining server at once.
    assert await asyncio.to_thread(leader.proc.wait, 30) == 0
    await asyncio.sleep(1.0)
    assert not any("ACME: requesting" in line for line in follower.lines)
    assert (await handshake(follower.addresses["https"], root)).startswith(b"HTTP/1.1 200")


async def test_on_demand_through_a_follower(ha: Replicas) -> None:
    """onDemand: a handshake on the follower asks the leader (through a Secret), the leader orders."""
    ha.shop_service()
    ha.kube_api.apply(tls_ingress())
    leader, follower = await ha.leader_and_follower(
        "onDemand", follower_http=f"127.0.0.1:{ha.pebble.http_port}"
    )
    address = follower.addresses["https"]
    await asyncio.to_thread(follower.wait_for, r"configuration applied")
    assert not any(
        "ACME: requesting" in line for line in leader.lines
    )  # onDemand: nothing without a handshake
    data = await served_with_a_valid_certificate(address, ha.pebble.root_file())
    assert data.startswith(b"HTTP/1.1 200")
    assert any("ACME on-demand: asked the leader for shop.example.test" in line for line in follower.lines)
    assert any(
        "ACME: requesting a certificate for shop.example.test (on demand)" in line for line in leader.lines
    )
    assert not any("ACME: requesting" in line for line in follower.lines)


async def test_follower_answers_tls_alpn01_for_the_leaders_order(ha: Replicas) -> None:
    """TLS-ALPN-01 with two replicas: Pebble connects to the follower only (its https entrypoint is
    on Pebble's tlsPort), which must present the challenge certificate for the leader's order."""
    ha.shop_service()
    leader, follower = await ha.leader_and_follower(
        challenge="[acme.tlsChallenge]", https_address=f"127.0.0.1:{ha.pebble.tls_port}"
    )

    ha.kube_api.apply(tls_ingress())
    await asyncio.to_thread(leader.wait_for, r"ACME: obtained a certificate for shop.example.test", 60.0)
    assert not any("ACME: requesting" in line for line in follower.lines)
    # The answer went through the shared Secret (the follower read it) and left it with the order.
    shared = ha.kube_api.get("Secret", "ingressctl", "acme-http01")
    assert shared is not None
    answers = json.loads(base64.b64decode(next(iter(shared["data"].values()))))
    assert not any(key.startswith("tls-alpn-01:") for key in answers)
    assert "replica-b" in shared_secret_readers(ha.kube_api)
    root = ha.pebble.root_file()
    data = await served_with_a_valid_certificate(follower.addresses["https"], root, 15.0)
    assert data.startswith(b"HTTP/1.1 200")
