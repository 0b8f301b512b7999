"""What the examples/kubernetes tests share: the manifests, a pod's network, the API server and a
backend reachable from inside it, probes and requests sent as a kubelet or a client would."""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from tests.examples.pod import Launch
from tests.kubeapi import KubeAPIServer
from tests.serve.conftest import ServeProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "kubernetes"
POD_IP = "10.0.0.5"  # only ever assigned inside the tests' own network namespaces
# A cloud load balancer's address, as the Service controller writes it into the Service's status.
LB_IP = "192.0.2.80"
NODE_IP = "203.0.113.9"  # the ExternalIP of the node the pods run on


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in documents(f.name) if d.get("kind") == kind]


def traefik_toml() -> dict[str, Any]:
    (configmap,) = by_kind("ConfigMap")
    parsed: dict[str, Any] = tomlkit.parse(configmap["data"]["traefik.toml"]).unwrap()
    return parsed


@contextlib.contextmanager
def pod_network(pod_ip: str = POD_IP) -> Iterator[PodNetwork]:
    if not can_create() and not os.environ.get("CI"):
        pytest.skip("creating a network namespace needs CAP_SYS_ADMIN (root)")
    network = PodNetwork(pod_ip)
    try:
        yield network
    finally:
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
async def backend_in_pod_network(*networks: PodNetwork) -> AsyncIterator[int]:
    """An application backend every pod reaches at 127.0.0.1:PORT (the same port in each network);
    answers "backend HOST"."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=f"backend {request.headers.get('Host', '')}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    first, *others = networks
    sock = first.listen("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    for site_sock in (sock, *(network.listen("127.0.0.1", port) for network in others)):
        await web.SockSite(runner, site_sock).start()
    try:
        yield port
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


def probe_once(probe: dict[str, Any], port: int, pod_ip: str = POD_IP) -> tuple[bool, str]:
    """The kubelet's verdict on one probe of the pod (httpGet: a 2xx here, stricter than its < 400)."""
    if "httpGet" in probe:
        get = probe["httpGet"]
        assert get.get("scheme", "HTTP") == "HTTP", "the probe port serves plain HTTP"
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        status, body = http_get(
            f"http://{get.get('host', pod_ip)}:{port}{get.get('path', '/')}", headers=headers
        )
        return 200 <= status < 300, f"{status} {body[:100]}"
    if "tcpSocket" in probe:
        try:
            with socket.create_connection((probe["tcpSocket"].get("host", pod_ip), port), timeout=5):
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
        ok, detail = await asyncio.to_thread(network.call, probe_once, probe, port, network.pod_ip)
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


def prepare_cluster(kube_api: KubeAPIServer, workload: dict[str, Any], backend_port: int) -> str:
    """What `kubectl apply -k` creates that ingressctl reads, the example's RBAC for the workload's
    service account (returned: the token), and one application behind an Ingress of the example's class."""
    from tests.examples.pod import pod_spec
    from tests.kubeapi import rules_from_rbac
    from tests.kubeapi.fixtures import endpoint_slice, ingress, node, service

    namespace = workload["metadata"]["namespace"]
    user = f"system:serviceaccount:{namespace}:{pod_spec(workload)['serviceAccountName']}"
    kube_api.add_token("pod-token", user)
    kube_api.set_rules(rules_from_rbac(user, documents("10-rbac.yaml")))
    kube_api.apply_many(by_kind("IngressClass"))
    for svc in by_kind("Service"):  # with the address a cloud load balancer gives it
        kube_api.apply({**svc, "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}})
    # The pods' node, for the status address without --publish-service (the DaemonSet).
    kube_api.apply(node("node-1", {"InternalIP": "10.0.0.1", "ExternalIP": NODE_IP}))
    (class_name,) = [c["metadata"]["name"] for c in by_kind("IngressClass")]
    kube_api.apply_many(
        [
            service("app", "shop"),
            endpoint_slice("app-1", "app", ["127.0.0.1"], "shop", port=backend_port),
            ingress("app", "shop", host="app.test", service_name="app", ingress_class=class_name),
        ]
    )
    return "pod-token"


def start_pod(
    network: PodNetwork,
    workload: dict[str, Any],
    kube_api: KubeAPIServer,
    root: Path,
    base_env: dict[str, str],
    pod_name: str,
) -> ServeProcess:
    """The workload's container as pod `pod_name` in `network`, with its service account files."""
    from tests.examples.pod import launch
    from tests.kubeapi.fixtures import pod

    root.mkdir(parents=True)
    namespace = workload["metadata"]["namespace"]
    # The Pod object the kubelet reports, on node-1 (see field_value in pod.py).
    kube_api.apply(pod(pod_name, namespace, node_name="node-1", host_ip="10.0.0.1", pod_ip=network.pod_ip))
    cluster_env = kube_api.write_serviceaccount(root / "sa", token="pod-token", namespace=namespace)
    cluster_env["INGRESSCTL_SERVICEACCOUNT_DIR"] = str(root / "sa")
    configmaps = {c["metadata"]["name"]: c for c in by_kind("ConfigMap")}
    started = launch(workload, configmaps, root / "volumes", {**base_env, **cluster_env}, pod_name=pod_name)
    (root / "workdir").mkdir()
    return start_in(network, started, root / "workdir")
