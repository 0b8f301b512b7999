"""Sanity check with a client-go program: kubectl lists, reads and watches the test API server."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, service
from tests.needs import tool

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _kubectl_installed() -> None:
    tool("kubectl", "kubernetes-client")


def kubectl(kubeconfig: Path, *args: str) -> str:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_kubectl_reads(kube_api: KubeAPIServer) -> None:
    kube_api.apply_many([ingress("web", host="a.example"), service("web", "other")])
    kc = kube_api.write_kubeconfig()
    # Debian's kubectl 1.20 prints version.Info{...GitVersion:"v1.31.0-kubeapi-test"...}, newer ones less.
    version = kubectl(kc, "version")
    assert "Server Version: " in version and "v1.31.0-kubeapi-test" in version, version
    assert kubectl(kc, "get", "svc", "-A", "-o", "name").split() == ["service/web"]
    assert kubectl(kc, "get", "ingress", "web", "-o", "jsonpath={.spec.rules[0].host}") == "a.example"
    resources = kubectl(kc, "api-resources", "-o", "name").split()
    assert {
        "ingresses.networking.k8s.io",
        "endpointslices.discovery.k8s.io",
        "leases.coordination.k8s.io",
    } <= set(resources)


def test_kubectl_watches(kube_api: KubeAPIServer) -> None:
    kube_api.apply(service("web"))
    kc = kube_api.write_kubeconfig()
    proc = subprocess.Popen(
        ["kubectl", "--kubeconfig", str(kc), "get", "svc", "-w", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        kube_api.wait_for_watches(1, "services", timeout=20)
        kube_api.apply(service("web2"))
        kube_api.delete("Service", "default", "web")
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert out.split() == ["service/web", "service/web2", "service/web"], err


def test_kubectl_finds_the_gateway_api_kinds(kube_api: KubeAPIServer) -> None:
    from tests.kubeapi.gateway_fixtures import gateway, gateway_class, http_route, reference_grant

    kube_api.apply_many(
        [
            gateway_class("ours"),
            gateway("gw", "ours", "shop"),
            http_route("r", "shop", parent="gw", backend="web"),
            reference_grant("allow", "backends", from_ns="shop"),
        ]
    )
    kc = kube_api.write_kubeconfig()
    resources = set(kubectl(kc, "api-resources", "-o", "name").split())
    assert {
        "gatewayclasses.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
    } <= resources
    # Short names, the CRDs' category, and the defaults applied, as client-go reads them.
    assert kubectl(kc, "get", "gtw", "-n", "shop", "-o", "name").split() == [
        "gateway.gateway.networking.k8s.io/gw"
    ]
    category = kubectl(kc, "get", "gateway-api", "-A", "-o", "name").split()
    assert (
        "httproute.gateway.networking.k8s.io/r" in category
        and "gatewayclass.gateway.networking.k8s.io/ours" in category
    )
    path = "jsonpath={.spec.rules[0].matches[0].path.type} {.spec.rules[0].backendRefs[0].weight}"
    assert kubectl(kc, "get", "httproute", "r", "-n", "shop", "-o", path) == "PathPrefix 1"
    v1beta1 = kubectl(
        kc, "get", "referencegrants.v1beta1.gateway.networking.k8s.io", "-n", "backends", "-o", "name"
    )
    assert v1beta1.split() == ["referencegrant.gateway.networking.k8s.io/allow"]
