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
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit
import yaml
from aiohttp import web

from tests.examples.netns import PodNetwork, can_create
from tests.examples.pod import Launch, container, container_port, launch, pod_spec
from tests.kubeapi import KubeAPIServer, rules_from_rbac
from tests.kubeapi.fixtures import endpoint_slice, ingress, load_balancer, service
from tests.serve.conftest import ServeProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
WORKLOADS = ("40-deployment.yaml", "daemonset.yaml")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
POD_IP = "10.0.0.5"  # only ever assigned inside the test's own network namespace
# A cloud load balancer's address, as the Service controller writes it into the Service's status.
LB_IP = "192.0.2.80"

pytestmark = pytest.mark.timeout(120)


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in documents(f.name) if d.get("kind") == kind]


def traefik_toml() -> dict[str, Any]:
    (configmap,) = by_kind("ConfigMap")
    parsed: dict[str, Any] = tomlkit.parse(configmap["data"]["traefik.toml"]).unwrap()
    return parsed


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


@pytest.fixture
def pod_network() -> Iterator[PodNetwork]:
    if not can_create() and not os.environ.get("CI"):
        pytest.skip("creating a network namespace needs CAP_SYS_ADMIN (root)")
    network = PodNetwork(POD_IP)
    yield network
    network.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


@contextlib.asynccontextmanager
async def api_server_in_pod(network: PodNetwork, kube_api: KubeAPIServer) -> AsyncIterator[None]:
    """The API server at 127.0.0.1:PORT inside the pod's namespace too (a TCP relay; TLS stays end to
    end), so the in-cluster address the service account files name is the same."""

    tasks: set[asyncio.Task[Any]] = set()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", kube_api.port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            writer.close()
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(relay, sock=network.listen("127.0.0.1", kube_api.port))
    try:
        yield
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def backend_in_pod_network(network: PodNetwork) -> AsyncIterator[int]:
    """An application backend the pod reaches at 127.0.0.1:PORT; answers "backend HOST"."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"backend {request.headers.get('Host', '')}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = network.listen("127.0.0.1", 0)
    await web.SockSite(runner, sock).start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        await runner.cleanup()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The kubelet does not follow a redirect to another host: a 3xx is the answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(url: str, host: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One request as a probe or a client sends it; (status, body), or (0, error) when refused."""
    request = urllib.request.Request(url, headers={**(headers or {}), **({"Host": host} if host else {})})
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the generated default certificate
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context), _NoRedirects()
    )
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)


def probe_once(probe: dict[str, Any], port: int) -> tuple[bool, str]:
    """The kubelet's verdict on one probe of the pod (httpGet: a 2xx here, stricter than its < 400)."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        assert get.get("scheme", "HTTP") == "HTTP", "the probe port serves plain HTTP"
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        status, body = http_get(
            f"http://{get.get('host', POD_IP)}:{port}{get.get('path', '/')}", headers=headers
        )
        return 200 <= status < 300, f"{status} {body[:100]}"
    if "tcpSocket" in probe:
        try:
            with socket.create_connection((probe["tcpSocket"].get("host", POD_IP), port), timeout=5):
                return True, "connected"
        except OSError as exc:
            return False, str(exc)
    raise AssertionError(f"probe {probe}: only httpGet and tcpSocket are known here")


async def wait_passing(
    network: PodNetwork, sp: ServeProcess, probe: dict[str, Any], port: int, what: str
) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        assert sp.proc.poll() is None, f"serve exited ({sp.proc.returncode}) before {what} passed:\n{sp.text}"
        ok, detail = await asyncio.to_thread(network.call, probe_once, probe, port)
        if ok:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{what} still failing ({detail}):\n{sp.text}"
        await asyncio.sleep(0.1)


def start_in(network: PodNetwork, started: Launch, cwd: Path) -> ServeProcess:
    proc = subprocess.Popen(
        started.argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=started.env,
        cwd=cwd,
        preexec_fn=network.enter,  # setns only, before exec
        pass_fds=(network.fd,),
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    return sp


@pytest.mark.parametrize("workload_file", WORKLOADS)
async def test_workload_starts_and_passes_its_probes(
    workload_file: str,
    kube_api: KubeAPIServer,
    pod_network: PodNetwork,
    tmp_path: Path,
    cli_env: dict[str, str],
) -> None:
    (workload,) = documents(workload_file)
    namespace = workload["metadata"]["namespace"]
    account = pod_spec(workload)["serviceAccountName"]
    user = f"system:serviceaccount:{namespace}:{account}"
    kube_api.add_token("pod-token", user)
    kube_api.set_rules(rules_from_rbac(user, documents("10-rbac.yaml")))
    # What `kubectl apply -k` creates that ingressctl reads: the IngressClass, and its own Service (with
    # the address a cloud load balancer gives it).
    kube_api.apply_many(by_kind("IngressClass"))
    for svc in by_kind("Service"):
        kube_api.apply({**svc, "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}})
    async with api_server_in_pod(pod_network, kube_api), backend_in_pod_network(pod_network) as backend_port:
        # One application behind an Ingress of the example's class.
        (class_name,) = [c["metadata"]["name"] for c in by_kind("IngressClass")]
        kube_api.apply_many(
            [
                service("app", "shop"),
                endpoint_slice("app-1", "app", ["127.0.0.1"], "shop", port=backend_port),
                ingress("app", "shop", host="app.test", service_name="app", ingress_class=class_name),
            ]
        )
        cluster_env = kube_api.write_serviceaccount(tmp_path / "sa", token="pod-token", namespace=namespace)
        cluster_env["INGRESSCTL_SERVICEACCOUNT_DIR"] = str(tmp_path / "sa")
        configmaps = {c["metadata"]["name"]: c for c in by_kind("ConfigMap")}
        started = launch(workload, configmaps, tmp_path / "pod", {**cli_env, **cluster_env})
        cwd = tmp_path / "workdir"
        cwd.mkdir()
        sp = start_in(pod_network, started, cwd)
        try:
            spec = container(workload)
            probes = {name: spec[name] for name in PROBES if name in spec}
            assert {"livenessProbe", "readinessProbe"} <= probes.keys()
            for name, probe in probes.items():
                port = container_port(workload, (probe.get("httpGet") or probe.get("tcpSocket"))["port"])
                await wait_passing(pod_network, sp, probe, port, f"{workload_file} {name}")
            await check_the_install_serves(pod_network, sp, workload, kube_api)
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
    if "--publish-service" not in container(workload)["args"]:
        return  # the DaemonSet names no address to publish (its nodes' addresses are the entry)
    deadline = asyncio.get_running_loop().time() + 30
    while load_balancer(kube_api, "app") != [{"ip": LB_IP}]:
        assert asyncio.get_running_loop().time() < deadline, f"no Ingress status written:\n{sp.text}"
        await asyncio.sleep(0.1)


def test_every_workload_and_the_kustomization_agree() -> None:
    """The kustomization lists every file of the base install; both workloads mount the ConfigMap."""
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
