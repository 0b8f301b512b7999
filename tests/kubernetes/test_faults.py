"""The provider through what goes wrong: 410s, restarts, stalls, broken streams, slow and refused calls."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.kubernetes import KubernetesProvider
from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import ingress, service
from tests.kubernetes.conftest import FAST, Recorder, kube_config, running
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(60)


def hosts(snap: object) -> set[str]:
    return {r.host or "" for i in snap.ingresses for r in i.rules}  # type: ignore[attr-defined]


def lists_of(server: KubeAPIServer, path: str) -> int:
    return sum(1 for r in server.request_log() if r.path == path and r.verb != "watch")


INGRESSES = "/apis/networking.k8s.io/v1/ingresses"


@contextlib.asynccontextmanager
async def watching(server: KubeAPIServer, provider: KubernetesProvider) -> AsyncIterator[Recorder]:
    """`provider` running, Ingress web (host a.example) published and every watch open: the start
    of each fault below."""
    server.apply(ingress("web", host="a.example"))
    async with running(provider) as rec:
        await rec.wait(lambda s: hosts(s) == {"a.example"})
        server.wait_for_watches(5)
        yield rec


async def test_expired_on_open_stream_relists(
    kube_api: KubeAPIServer,
    provider_factory: Callable[..., KubernetesProvider],
    kube_logs: pytest.LogCaptureFixture,
) -> None:
    async with watching(kube_api, provider_factory()) as rec:
        kube_api.compact()  # open streams get ERROR 410
        kube_api.apply(ingress("web", host="b.example"))
        await rec.wait(lambda s: hosts(s) == {"b.example"})
        kube_api.apply(ingress("more", host="c.example"))
        await rec.wait(lambda s: hosts(s) == {"b.example", "c.example"})
    assert lists_of(kube_api, INGRESSES) >= 2
    assert "is too old (410 Gone), listing again" in kube_logs.text


async def test_expired_on_request_relists(tmp_path: Path, kube_logs: pytest.LogCaptureFixture) -> None:
    with KubeAPIServer(tmp_path, expired_watch="status", bookmark_interval=60) as server:
        server.apply(ingress("web", host="a.example"))
        timing = dataclasses.replace(FAST, watch_timeout=1)
        async with running(KubernetesProvider(kube_config(server), timing=timing)) as rec:
            await rec.wait(lambda s: hosts(s) == {"a.example"})
            server.wait_for_watches(5)
            # A change the Ingress stream does not see, then history is forgotten while watches stay open:
            # the Ingress stream's next re-watch (after timeoutSeconds) asks for a version the server no
            # longer has and is refused with HTTP 410.
            server.apply(service("other", "elsewhere"))
            server.compact(expire_open_watches=False)
            await eventually(lambda: lists_of(server, INGRESSES) >= 2, timeout=10)
            server.apply(ingress("web", host="b.example"))
            await rec.wait(lambda s: hosts(s) == {"b.example"})
        gone = [r for r in server.request_log() if r.status == 410]
        assert gone and all(r.verb == "watch" for r in gone)
        assert lists_of(server, INGRESSES) >= 2


async def test_api_server_restart(
    kube_api: KubeAPIServer,
    provider_factory: Callable[..., KubernetesProvider],
    kube_logs: pytest.LogCaptureFixture,
) -> None:
    async with watching(kube_api, provider_factory()) as rec:
        published, reported = len(rec.updates), len(rec.statuses)
        kube_api.restart(downtime=0.5)
        down = await rec.wait_status(lambda s: not s.healthy, since=reported)
        assert kube_api.url in down.message
        assert "keeping the last good configuration" in down.message
        assert hosts(rec.snapshot) == {"a.example"}  # nothing was published while it was down
        assert len(rec.updates) == published
        kube_api.apply(ingress("web", host="b.example"))
        await rec.wait(lambda s: hosts(s) == {"b.example"})
        await rec.wait_status(lambda s: s.healthy, since=reported)
    assert "listing again" in kube_logs.text  # every resourceVersion changed: the old ones are 410
    assert "attempt 1/" in kube_logs.text


async def test_stalled_stream_is_detected_and_restarted(
    kube_api: KubeAPIServer,
    provider_factory: Callable[..., KubernetesProvider],
    kube_logs: pytest.LogCaptureFixture,
) -> None:
    async with watching(kube_api, provider_factory()) as rec:
        kube_api.stall_watches()
        kube_api.apply(ingress("web", host="b.example"))  # a stalled stream never delivers this
        await rec.wait(lambda s: hosts(s) == {"b.example"}, timeout=10)
    assert "stalled (nothing for 1s; not even a bookmark); restarting it" in kube_logs.text


async def test_stream_broken_mid_line(
    kube_api: KubeAPIServer,
    provider_factory: Callable[..., KubernetesProvider],
    kube_logs: pytest.LogCaptureFixture,
) -> None:
    async with watching(kube_api, provider_factory()) as rec:
        kube_api.break_stream_midline()
        kube_api.apply(ingress("web", host="b.example"))
        await rec.wait(lambda s: hosts(s) == {"b.example"})
        kube_api.apply(ingress("web", host="c.example"))
        await rec.wait(lambda s: hosts(s) == {"c.example"})
    assert "was cut off" in kube_logs.text or "ended in the middle of an event" in kube_logs.text


async def test_slow_api_server(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.apply(ingress("web", host="a.example"))
    kube_api.set_delay(0.5)  # slower than usual, within the request timeout: just late
    async with running(provider_factory()) as rec:
        await rec.wait(lambda s: hosts(s) == {"a.example"})
    kube_api.set_delay(0)
    kube_api.set_delay(3.0, path_contains="/ingresses")  # beyond the 2 s request timeout
    async with running(provider_factory()) as rec:
        status = await rec.wait_status(lambda s: "timed out" in s.message)
        assert "ingresses.networking.k8s.io" in status.message
        kube_api.set_delay(0)
        await rec.wait(lambda s: hosts(s) == {"a.example"})


async def test_unauthorized_is_one_clear_line(
    kube_api: KubeAPIServer,
    provider_factory: Callable[..., KubernetesProvider],
    kube_logs: pytest.LogCaptureFixture,
) -> None:
    async with running(provider_factory(token="revoked")) as rec:
        status = await rec.wait_status(lambda s: "401 Unauthorized" in s.message)
        assert (
            f"the API server at {kube_api.url} rejected our credentials (401 Unauthorized)" in status.message
        )
        assert "\n" not in status.message
        kube_api.add_token("revoked", "late-user")  # fixed without a restart: the retries pick it up
        await rec.wait_status(lambda s: s.healthy)
    assert "retrying in" in kube_logs.text


async def test_forbidden_names_verb_and_resource(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    user = "system:serviceaccount:ingressctl:ingressctl"
    kube_api.add_token("sa", user)
    everything_but_secrets = [
        rule(user, ["list", "watch"], ["ingresses", "ingressclasses"], groups=["networking.k8s.io"]),
        rule(user, ["list", "watch"], ["services"], groups=[""]),
        rule(user, ["list", "watch"], ["endpointslices"], groups=["discovery.k8s.io"]),
    ]
    kube_api.set_rules(everything_but_secrets)
    kube_api.apply(ingress("web", host="a.example"))
    async with running(provider_factory(token="sa")) as rec:
        status = await rec.wait_status(lambda s: "403 Forbidden" in s.message)
        assert status.message.startswith(
            "not allowed to list secrets at the cluster scope (403 Forbidden: secrets is forbidden: User "
            '"system:serviceaccount:ingressctl:ingressctl" cannot list resource "secrets" in API group "" '
            "at the cluster scope)"
        )
        assert rec.updates == []  # never a partial snapshot without the Secrets
        kube_api.set_rules([*everything_but_secrets, rule(user, ["list", "watch"], ["secrets"], groups=[""])])
        await rec.wait(lambda s: hosts(s) == {"a.example"})


async def test_unreachable_api_server(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = KubernetesConfig(endpoint=f"http://127.0.0.1:{port}", token="x")
    async with running(KubernetesProvider(config, timing=FAST)) as rec:
        status = await rec.wait_status(lambda s: "connection refused" in s.message)
        assert status.message.startswith(f"cannot reach the API server at http://127.0.0.1:{port} to list ")


async def test_last_good_snapshot_stays_while_credentials_fail(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.add_token("short-lived", "someone")
    async with watching(kube_api, provider_factory(token="short-lived")) as rec:
        kube_api.revoke_token("short-lived")
        kube_api.restart()  # every watch reconnects and is refused
        status = await rec.wait_status(lambda s: "401 Unauthorized" in s.message)
        assert status.message.endswith("keeping the last good configuration")
        assert hosts(rec.snapshot) == {"a.example"}
        kube_api.add_token("short-lived", "someone")
        kube_api.apply(ingress("web", host="b.example"))
        await rec.wait(lambda s: hosts(s) == {"b.example"})


async def test_a_burst_of_changes_is_published_as_few_snapshots(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    async with running(provider_factory()) as rec:
        await rec.wait(lambda s: True)
        kube_api.apply_many(service(f"svc-{i}") for i in range(200))
        await rec.wait(lambda s: len(s.services) == 200)
        assert len(rec.updates) < 150
