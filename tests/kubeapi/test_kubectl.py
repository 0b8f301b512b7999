"""Sanity check with a client-go program: kubectl lists, reads and watches the test API server."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, service

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (client-go) is not installed"),
]


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
    # kubectl 1.20 (Debian's) prints version.Info{... GitVersion:"v1.31.0-kubeapi-test" ...}.
    assert "v1.31.0-kubeapi-test" in kubectl(kc, "version")
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
