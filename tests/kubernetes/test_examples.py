"""examples/kubernetes: loads cleanly, and its RBAC grants exactly what the provider does."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import yaml

from ingressctl.config.loader import load_static_config
from ingressctl.config.overrides import ConfigOverrides
from ingressctl.manifests import load_paths
from ingressctl.providers.kubernetes import KubernetesProvider, LeaderElector, SecretStore
from tests.kubeapi import KubeAPIServer, rules_from_rbac
from tests.kubeapi.fixtures import ingress, service
from tests.kubeapi.gateway_fixtures import accepted_report, gateway_objects
from tests.kubernetes.conftest import FAST, kube_config, running

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
USER = "system:serviceaccount:ingressctl:ingressctl"

pytestmark = pytest.mark.timeout(60)


def test_examples_load_without_findings() -> None:
    result = load_paths([str(EXAMPLES)])
    assert result.diagnostics == []
    assert [c.controller for c in result.snapshot.ingress_classes] == ["ingressctl.io/ingress-controller"]
    # extras/servicemonitor.yaml adds the metrics Service.
    assert sorted(s.type for s in result.snapshot.services) == ["ClusterIP", "LoadBalancer"]
    assert result.skipped.get("Deployment") == 1 and result.skipped.get("DaemonSet") == 1


def test_configmap_holds_a_valid_static_config(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "20-configmap.yaml").read_text()))
    path = tmp_path / "traefik.toml"
    path.write_text(docs[0]["data"]["traefik.toml"])
    static = load_static_config(str(path), ConfigOverrides())
    assert static.kubernetes is not None and static.kubernetes.ingress_class == "ingressctl"
    assert static.acme is None  # optional: a commented block, which must load once uncommented
    assert {e.name: e.port for e in static.entrypoints} == {"http": 8000, "https": 8443}
    assert (
        static.ping_address == ":8082" and static.api is not None and static.api.address == "127.0.0.1:8080"
    )
    text = docs[0]["data"]["traefik.toml"]
    block = text[text.index("# [acme]") :]
    path.write_text(text.replace(block, "\n".join(line.replace("# ", "", 1) for line in block.splitlines())))
    with_acme = load_static_config(str(path), ConfigOverrides())
    assert with_acme.acme is not None and with_acme.acme.storage == "secret:ingressctl/ingressctl-acme"


def test_workloads_run_unprivileged_with_probes_on_the_ping_port() -> None:
    for name in ("40-deployment.yaml", "daemonset.yaml"):
        pod = yaml.safe_load((EXAMPLES / name).read_text())["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = pod["containers"][0]
        assert container["args"][:4] == ["serve", "--kubernetes", "--config", "/config/traefik.toml"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "ping"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "ping"}
        ping_port = next(p for p in container["ports"] if p["name"] == "ping")
        assert ping_port["containerPort"] == 8082
    daemon = yaml.safe_load((EXAMPLES / "daemonset.yaml").read_text())["spec"]["template"]["spec"]
    assert {p.get("hostPort") for p in daemon["containers"][0]["ports"]} == {80, 443, None}


async def test_rbac_allows_everything_the_controller_does_and_nothing_unused(kube_api: KubeAPIServer) -> None:
    documents = list(yaml.safe_load_all((EXAMPLES / "10-rbac.yaml").read_text()))
    kube_api.add_token("sa", USER)
    kube_api.set_rules(rules_from_rbac(USER, documents))
    kube_api.apply_many([ingress("web"), service("ingressctl", "ingressctl"), *gateway_objects()])
    provider = KubernetesProvider(kube_config(kube_api, "sa"), timing=FAST, gateway=True)
    async with running(provider) as rec:
        snap = await rec.wait(lambda s: bool(s.ingresses) and bool(s.http_routes))
        address = await provider.resolve_publish_address(publish_service="ingressctl/ingressctl")
        assert await provider.publish_status(snap.ingresses, address) == 1
        assert await provider.publish_gateway_status(accepted_report(), address) == 3
        elector = LeaderElector(provider.connection, namespace="ingressctl", retry_period=0.05)
        task = asyncio.create_task(elector.run())
        for _ in range(200):
            if elector.is_leader:
                break
            await asyncio.sleep(0.02)
        assert elector.is_leader
        await asyncio.sleep(0.2)  # a few renewals
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store = SecretStore.from_spec("secret:ingressctl/ingressctl-acme", provider.connection)
        await asyncio.to_thread(store.save_bytes, b"{}")
        await asyncio.to_thread(store.save_bytes, b'{"default": {}}')
        assert await asyncio.to_thread(store.load_bytes) == b'{"default": {}}'
    log = kube_api.request_log()
    assert [r for r in log if r.status == 403] == []
    used = {(r.verb, r.resource) for r in log if r.verb}
    granted = {
        (v, res) for rule in rules_from_rbac(USER, documents) for v in rule.verbs for res in rule.resources
    }
    # Legacy Endpoints are only read where EndpointSlices are not served (test_watch covers that path);
    # the Pod and its Node only without --publish-service (tests/examples runs the DaemonSet that way).
    unused_here = {("list", "endpoints"), ("watch", "endpoints"), ("get", "pods"), ("get", "nodes")}
    assert used == granted - unused_here
