"""examples/kubernetes starts and passes its own probes: each workload's container, as written, runs
as a real `ingressctl serve` against the test API server with the example's RBAC.

Taken from the YAML files, unchanged: the ConfigMap's traefik.toml, the container's args, env (values
and Downward API fields), volume mounts, ports and probes, the RBAC rules, the IngressClass and the
Service. The process runs in a network namespace of its own with the pod's address (10.0.0.5), so
every port is bound as written and probes reach it as a kubelet does; the API server, an application
backend and the probes are reached across it (tests/examples/netns.py). What else is replaced to run
here is listed in tests/examples/pod.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.examples.harness import (
    EXAMPLES,
    LB_IP,
    NODE_IP,
    POD_IP,
    api_server_in_pod,
    backend_in_pod_network,
    documents,
    http_get,
    pod_network,
    prepare_cluster,
    start_pod,
    traefik_toml,
    wait_passing,
)
from tests.examples.netns import PodNetwork
from tests.examples.pod import container, container_port, pod_spec
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import load_balancer
from tests.serve.conftest import ServeProcess

WORKLOADS = ("40-deployment.yaml", "daemonset.yaml")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


async def wait_probes(network: PodNetwork, sp: ServeProcess, workload: dict[str, Any], what: str) -> None:
    """Every probe of the container, until each passes once (as a kubelet would see the pod start)."""
    spec = container(workload)
    probes = {name: spec[name] for name in PROBES if name in spec}
    assert {"livenessProbe", "readinessProbe"} <= probes.keys()
    for name, probe in probes.items():
        port = container_port(workload, (probe.get("httpGet") or probe.get("tcpSocket"))["port"])
        await wait_passing(network, sp, probe, port, f"{what} {name}")


@pytest.mark.parametrize("workload_file", WORKLOADS)
async def test_workload_starts_and_passes_its_probes(
    workload_file: str, kube_api: KubeAPIServer, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (workload,) = documents(workload_file)
    with pod_network() as network:
        async with api_server_in_pod(network, kube_api), backend_in_pod_network(network) as backend_port:
            prepare_cluster(kube_api, workload, backend_port)
            sp = start_pod(network, workload, kube_api, tmp_path / "pod", cli_env, "ingressctl-0")
            try:
                await wait_probes(network, sp, workload, workload_file)
                await check_the_install_serves(network, sp, workload, kube_api)
                assert sp.proc.poll() is None, sp.text
                # SIGTERM, as the kubelet stops a pod: drain and exit 0.
                sp.proc.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(sp.proc.wait, 30)
                assert code == 0, sp.text
            finally:
                sp.stop()
    assert [line for line in sp.lines if " ERROR " in line or "Traceback" in line] == [], sp.text
    refused = [r for r in kube_api.request_log() if r.status in (401, 403)]
    assert refused == [], refused


async def check_the_install_serves(
    network: PodNetwork, sp: ServeProcess, workload: dict[str, Any], kube_api: KubeAPIServer
) -> None:
    """Beyond the probes: traffic flows, the ping port serves nothing else, the API is on loopback
    only, and the Ingress status names the load balancer."""

    def get(url: str, host: str | None = None) -> tuple[int, str]:
        return network.call(http_get, url, host)

    https = container_port(workload, "https")
    assert await asyncio.to_thread(get, f"https://{POD_IP}:{https}/", "app.test") == (200, "backend app.test")
    http = container_port(workload, "http")
    assert (await asyncio.to_thread(get, f"http://{POD_IP}:{http}/", "app.test"))[0] in (301, 302, 307, 308)
    ping = container_port(workload, "ping")
    for path in ("/api/overview", "/metrics", "/dashboard/"):
        assert (await asyncio.to_thread(get, f"http://{POD_IP}:{ping}{path}"))[0] == 404
    api_port = int(traefik_toml()["api"]["address"].rpartition(":")[2])
    assert (await asyncio.to_thread(get, f"http://127.0.0.1:{api_port}/api/overview"))[
        0
    ] == 200  # port-forward
    assert (await asyncio.to_thread(get, f"http://{POD_IP}:{api_port}/api/overview"))[0] == 0  # not exposed
    # The Deployment publishes its Service's load balancer; the DaemonSet (no --publish-service) the
    # address of the node it runs on, where its hostPorts are.
    want = LB_IP if "--publish-service" in container(workload)["args"] else NODE_IP
    deadline = asyncio.get_running_loop().time() + 30
    while load_balancer(kube_api, "app") != [{"ip": want}]:
        assert asyncio.get_running_loop().time() < deadline, f"no Ingress status written:\n{sp.text}"
        await asyncio.sleep(0.1)


def test_every_workload_and_the_kustomization_agree() -> None:
    """The kustomization lists every file of the base install; both workloads run as the issue asks."""
    kustomization = yaml.safe_load((EXAMPLES / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in EXAMPLES.glob("*.yaml")} - {"kustomization.yaml", "daemonset.yaml"}
    for name in WORKLOADS:
        (workload,) = documents(name)
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 65532
        spec = container(workload)
        assert spec["image"] == "ghcr.io/ingressctl/ingressctl:0.1.0"
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        tmp = next(m for m in spec["volumeMounts"] if m["mountPath"] == "/tmp")
        assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])


@pytest.mark.skipif(
    shutil.which("kubectl") is None and not os.environ.get("CI"),
    reason="kubectl is not installed (.ci/run installs Debian's kubernetes-client)",
)
def test_kubectl_kustomize_builds_the_install() -> None:
    proc = subprocess.run(
        ["kubectl", "kustomize", str(EXAMPLES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(proc.stdout) if d)
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "ConfigMap",
            "IngressClass",
            "Deployment",
            "Service",
        ]
    )
