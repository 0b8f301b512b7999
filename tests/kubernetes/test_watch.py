"""The provider follows the cluster: every kind added, changed, deleted; filters; in-cluster config."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from ingressctl.model import Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.kubernetes import KubernetesProvider, list_snapshot, list_update
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, endpoints, ingress, ingress_class, secret, service
from tests.kubernetes.conftest import FAST, kube_config, running

pytestmark = pytest.mark.timeout(60)


def names(objs: Iterable[Any]) -> list[str]:
    return sorted(f"{o.meta.namespace}/{o.meta.name}" if o.meta.namespace else o.meta.name for o in objs)


def seed(server: KubeAPIServer) -> None:
    server.apply_many(
        [
            ingress_class("ingressctl", default=True),
            ingress("web", tls_secret="web-tls"),
            service("web"),
            endpoint_slice("web-abc", "web", ["10.1.0.1", "10.1.0.2"]),
            secret(
                "web-tls", data={"tls.crt": base64.b64encode(b"cert").decode()}, type_="kubernetes.io/tls"
            ),
            secret("unrelated"),
            secret("sh.helm.release.v1.x.v1", type_="helm.sh/release.v1"),
        ]
    )


async def test_first_snapshot_holds_every_kind(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    seed(kube_api)
    async with running(provider_factory()) as rec:
        snap = await rec.wait(lambda s: bool(s.ingresses))
        assert names(snap.ingresses) == ["default/web"]
        assert names(snap.services) == ["default/web"]
        assert names(snap.endpoint_slices) == ["default/web-abc"]
        assert snap.endpoint_slices[0].service_name == "web"
        assert [e.addresses for e in snap.endpoint_slices[0].endpoints] == [("10.1.0.1",), ("10.1.0.2",)]
        # Only Secrets an Ingress references reach the snapshot.
        assert names(snap.secrets) == ["default/web-tls"]
        assert snap.secrets[0].data["tls.crt"] == b"cert"
        assert names(snap.ingress_classes) == ["ingressctl"] and snap.ingress_classes[0].is_default
        assert len(rec.updates) == 1  # the first update waits until every stream has listed
        status = await rec.wait_status(lambda s: s.healthy)
        assert status.last_sync is not None
    # Helm release Secrets are filtered by the server, not downloaded and dropped.
    secret_lists = [r for r in kube_api.request_log() if r.path == "/api/v1/secrets"]
    assert secret_lists and all(
        "type!=helm.sh/release.v1" in r.query.get("fieldSelector", "") for r in secret_lists
    )


KINDS: dict[
    str, tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]], str, Callable[[Snapshot], Any]]
] = {
    "Ingress": (
        lambda: ingress("new", host="a.example"),
        lambda: ingress("new", host="b.example"),
        "new",
        lambda s: {i.meta.name: i.rules[0].host for i in s.ingresses},
    ),
    "Service": (
        lambda: service("new", port=80),
        lambda: service("new", port=81),
        "new",
        lambda s: {x.meta.name: x.ports[0].port for x in s.services},
    ),
    "EndpointSlice": (
        lambda: endpoint_slice("new", "web", ["10.2.0.1"]),
        lambda: endpoint_slice("new", "web", ["10.2.0.9"]),
        "new",
        lambda s: {x.meta.name: x.endpoints[0].addresses for x in s.endpoint_slices},
    ),
    "IngressClass": (
        lambda: ingress_class("new", controller="example.com/a"),
        lambda: ingress_class("new", controller="example.com/b"),
        "new",
        lambda s: {x.meta.name: x.controller for x in s.ingress_classes},
    ),
    "Secret": (
        lambda: secret("web-tls", data={"tls.crt": base64.b64encode(b"one").decode()}),
        lambda: secret("web-tls", data={"tls.crt": base64.b64encode(b"two").decode()}),
        "web-tls",
        lambda s: {x.meta.name: x.data.get("tls.crt") for x in s.secrets},
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_add_modify_delete(
    kind: str, kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    make, change, name, view = KINDS[kind]
    kube_api.apply_many([ingress("web", tls_secret="web-tls"), service("web")])
    async with running(provider_factory()) as rec:
        await rec.wait(lambda s: bool(s.ingresses))
        kube_api.apply(make())
        first = view(await rec.wait(lambda s: name in view(s), what=f"{kind} added"))[name]
        kube_api.apply(change())
        await rec.wait(lambda s: view(s).get(name) not in (None, first), what=f"{kind} modified")
        kube_api.delete(kind, "default", name)
        await rec.wait(lambda s: name not in view(s), what=f"{kind} deleted")


async def test_endpoint_changes_and_readiness(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    seed(kube_api)
    async with running(provider_factory()) as rec:
        await rec.wait(lambda s: bool(s.endpoint_slices))
        kube_api.apply(endpoint_slice("web-abc", "web", ["10.1.0.3"], ready=False))
        snap = await rec.wait(lambda s: s.endpoint_slices[0].endpoints[0].addresses == ("10.1.0.3",))
        assert snap.endpoint_slices[0].endpoints[0].ready is False
        kube_api.apply(endpoint_slice("web-abc", "web", ["10.1.0.3", "10.1.0.4"], ready=None))
        snap = await rec.wait(lambda s: len(s.endpoint_slices[0].endpoints) == 2)
        assert snap.endpoint_slices[0].endpoints[0].ready is None  # absent stays absent (design.md)


async def test_legacy_endpoints_where_slices_are_not_served(
    tmp_path: Path, kube_logs: pytest.LogCaptureFixture
) -> None:
    with KubeAPIServer(tmp_path, serve_endpointslices=False) as server:
        server.apply_many([ingress("web"), service("web"), endpoints("web", ["10.3.0.1"])])
        async with running(KubernetesProvider(kube_config(server), timing=FAST)) as rec:
            snap = await rec.wait(lambda s: bool(s.endpoints))
            assert snap.endpoint_slices == ()
            assert snap.endpoints[0].subsets[0].addresses == ("10.3.0.1",)
            server.apply(endpoints("web", ["10.3.0.2"]))
            await rec.wait(lambda s: s.endpoints[0].subsets[0].addresses == ("10.3.0.2",))
        assert "watching legacy Endpoints instead" in kube_logs.text


async def test_namespaces_filter_uses_one_watch_per_namespace(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    for ns in ("a", "b", "c"):
        kube_api.apply_many([ingress("web", ns), service("web", ns)])
    async with running(provider_factory(namespaces=["a", "b"])) as rec:
        snap = await rec.wait(lambda s: len(s.ingresses) == 2)
        assert names(snap.ingresses) == ["a/web", "b/web"]
        assert names(snap.services) == ["a/web", "b/web"]
        kube_api.apply(ingress("other", "c"))
        kube_api.apply(ingress("other", "b"))
        snap = await rec.wait(lambda s: len(s.ingresses) == 3)
        assert names(snap.ingresses) == ["a/web", "b/other", "b/web"]
    paths = {r.path for r in kube_api.request_log() if r.verb == "watch"}
    assert "/apis/networking.k8s.io/v1/namespaces/a/ingresses" in paths
    assert "/apis/networking.k8s.io/v1/namespaces/b/ingresses" in paths
    assert not any("/namespaces/c/" in p for p in paths)
    assert "/apis/networking.k8s.io/v1/ingresses" not in paths


async def test_label_selector_applies_to_ingresses(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    kube_api.apply_many(
        [
            ingress("mine", labels={"team": "web"}),
            ingress("theirs", labels={"team": "db"}),
            service("web", labels={"team": "db"}),  # the selector is for Ingresses only
        ]
    )
    async with running(provider_factory(label_selector="team in (web, edge)")) as rec:
        snap = await rec.wait(lambda s: bool(s.ingresses))
        assert names(snap.ingresses) == ["default/mine"] and names(snap.services) == ["default/web"]
        kube_api.apply(ingress("theirs", labels={"team": "edge"}))
        await rec.wait(lambda s: names(s.ingresses) == ["default/mine", "default/theirs"])
        kube_api.apply(ingress("mine", labels={"team": "none"}))
        await rec.wait(lambda s: names(s.ingresses) == ["default/theirs"])


async def test_settings_from_config_namespaces_and_selector(kube_api: KubeAPIServer) -> None:
    kube_api.apply_many(
        [ingress("a", "x", labels={"k": "v"}), ingress("b", "x"), ingress("c", "y", labels={"k": "v"})]
    )
    config = kube_config(kube_api, namespaces=("x",), label_selector="k=v")
    async with running(KubernetesProvider(config, timing=FAST)) as rec:
        snap = await rec.wait(lambda s: bool(s.ingresses))
        assert names(snap.ingresses) == ["x/a"]


async def test_in_cluster_service_account(
    kube_api: KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sa = tmp_path / "sa"
    for key, value in kube_api.write_serviceaccount(sa, namespace="ingressctl").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("INGRESSCTL_SERVICEACCOUNT_DIR", str(sa))
    kube_api.apply(ingress("web"))
    provider = KubernetesProvider(KubernetesConfig(), timing=FAST)
    assert provider.connection.source == "in-cluster"
    assert provider.connection.namespace == "ingressctl"
    async with running(provider) as rec:
        await rec.wait(lambda s: bool(s.ingresses))
    # The same through the explicit parameter, and through [kubernetes] endpoint + token + certAuthFilePath.
    monkeypatch.delenv("INGRESSCTL_SERVICEACCOUNT_DIR")
    explicit = KubernetesProvider(KubernetesConfig(), serviceaccount_dir=str(sa), timing=FAST)
    assert names(list_snapshot(KubernetesConfig(), connection=explicit.connection).ingresses) == [
        "default/web"
    ]
    config = KubernetesConfig(
        endpoint=kube_api.url, token="test-token", cert_auth_file_path=str(sa / "ca.crt")
    )
    assert names(list_snapshot(config).ingresses) == ["default/web"]


async def test_list_snapshot_one_shot(kube_api: KubeAPIServer) -> None:
    seed(kube_api)
    update = await asyncio.to_thread(list_update, kube_config(kube_api))
    assert names(update.snapshot.ingresses) == ["default/web"]
    assert names(update.snapshot.secrets) == ["default/web-tls"]
    assert names(update.snapshot.endpoint_slices) == ["default/web-abc"]


async def test_cancellation_stops_every_thread_promptly(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    seed(kube_api)
    provider = provider_factory()
    async with running(provider) as rec:
        await rec.wait(lambda s: bool(s.ingresses))
        threads = provider.threads
        assert len(threads) == 5 and all(t.is_alive() for t in threads)
    # Leaving `running` cancelled the provider and returned: every thread has ended (none is left
    # blocked in a watch that would only end with its server-side timeout).
    assert not any(t.is_alive() for t in threads)


async def test_published_snapshots_compile_to_routes_that_follow_endpoints(
    kube_api: KubeAPIServer, provider_factory: Callable[..., KubernetesProvider]
) -> None:
    from ingressctl.routing import CompileOptions, compile

    def upstreams(snap: Snapshot) -> list[str]:
        table, _ = compile(snap, CompileOptions())
        match = table.match("example.com", "/anything")
        return sorted(u.authority for u in match.route.backend.upstreams) if match else []

    seed(kube_api)
    async with running(provider_factory()) as rec:
        await rec.wait(lambda s: upstreams(s) == ["10.1.0.1:8080", "10.1.0.2:8080"])
        kube_api.apply(endpoint_slice("web-abc", "web", ["10.1.0.1", "10.1.0.2"], ready=False))
        kube_api.apply(endpoint_slice("web-def", "web", ["10.1.0.9"]))
        await rec.wait(lambda s: upstreams(s) == ["10.1.0.9:8080"], what="only the ready endpoint")
