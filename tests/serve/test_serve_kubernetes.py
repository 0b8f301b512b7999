"""`ingressctl serve --kubernetes`: routes come from the cluster (the test API server) and follow changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress_app, ingress_class
from tests.support.manifests import app_manifest

from .backends import Backend
from .conftest import ServeProcess

pytestmark = pytest.mark.timeout(90)


def apply(server: KubeAPIServer, host: str, port: int) -> None:
    server.apply_many([doc for doc in yaml.safe_load_all(app_manifest("app", host, "/", port)) if doc])


async def get(sp: ServeProcess, host: str, path: str = "/") -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as s,
        s.get(sp.url(path), headers={"Host": host}) as r,
    ):
        return r.status, await r.text()


async def eventually(sp: ServeProcess, host: str, want: int, timeout: float = 10.0) -> tuple[int, str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await get(sp, host)
        if got[0] == want:
            return got
        assert loop.time() < deadline, f"{host}: still {got} after {timeout}s\n{sp.text}"
        await asyncio.sleep(0.05)


async def test_serve_follows_the_cluster(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    apply(kube_api, "one.test", backend.port)
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve("--kubeconfig", str(kubeconfig), "--entrypoint", "web=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)
    assert await get(sp, "one.test") == (200, "127.0.0.1 one.test")
    apply(kube_api, "two.test", backend.port)  # the Ingress now names another host
    await eventually(sp, "two.test", 200)
    assert (await get(sp, "one.test"))[0] == 404
    assert await asyncio.to_thread(sp.stop) == 0


async def test_namespaces_label_selector_and_class_scope_what_is_served(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    port = backend.port
    kube_api.apply(ingress_class("edge", controller="example.com/edge-controller"))
    for name, ns, team, class_name in (
        ("a", "shop", "web", "edge"),
        ("b", "shop", "data", "edge"),  # left out by the label selector
        ("c", "blog", "web", "edge"),  # by the namespace
        ("d", "shop", "web", "other"),  # by the class
        ("e", "misc", "web", "edge"),
    ):
        ingress_app(
            kube_api, name, port, ns, host=f"{name}.test", labels={"team": team}, ingress_class=class_name
        )
    # The file's current context has a token the server rejects; --context picks the good one.
    kube_api.add_token("good-token", "kubernetes-admin")
    bad = kube_api.write_kubeconfig(token="rejected", context="bad")
    good = kube_api.write_kubeconfig(token="good-token", context="good")
    doc = yaml.safe_load(bad.read_text())
    extra = yaml.safe_load(good.read_text())
    for key in ("clusters", "users", "contexts"):
        doc[key] += extra[key]
    bad.write_text(yaml.safe_dump(doc))
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(bad),
        "--context",
        "good",
        "--namespace",
        "shop",
        "-n",
        "misc",
        "--label-selector",
        "team=web",
        "--ingress-class",
        "edge",
        "--controller-name",
        "example.com/edge-controller",
        "--entrypoint",
        "web=127.0.0.1:0",
    )
    await asyncio.to_thread(sp.wait_ready)
    assert await get(sp, "a.test") == (200, "127.0.0.1 a.test")
    assert await get(sp, "e.test") == (200, "127.0.0.1 e.test")
    for host in ("b.test", "c.test", "d.test"):
        assert (await get(sp, host))[0] == 404, host
    # The Ingress's Service disappears: a cluster lacks it for real (503, and said so), not "not given".
    kube_api.delete("Service", "shop", "a")
    await eventually(sp, "a.test", 503)
    await asyncio.to_thread(sp.wait_for, r"Service .*shop/a|shop/a.*Service|service .*\"a\"")


async def test_kubernetes_section_of_the_config_file(
    tmp_path: Path, kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    assert kube_api.certs is not None
    kube_api.add_token("file-token", "kubernetes-admin")
    for name, ns, tier in (("a", "shop", "front"), ("b", "shop", "back"), ("c", "blog", "front")):
        labels = {"tier": tier}
        ingress_app(
            kube_api, name, backend.port, ns, host=f"{name}.test", labels=labels, ingress_class="traefik-edge"
        )
    config = tmp_path / "traefik.toml"
    config.write_text(
        f"""
[entryPoints]
  [entryPoints.web]
  address = "127.0.0.1:0"

[kubernetes]
endpoint = "{kube_api.url}"
token = "file-token"
certAuthFilePath = "{kube_api.certs.ca_file}"
namespaces = ["shop"]
labelselector = "tier=front"
ingressClass = "traefik-edge"
"""
    )
    sp = serve("--config", str(config), env={"KUBECONFIG": ""})
    await asyncio.to_thread(sp.wait_ready)
    assert await get(sp, "a.test") == (200, "127.0.0.1 a.test")
    assert (await get(sp, "b.test"))[0] == 404
    assert (await get(sp, "c.test"))[0] == 404


async def test_api_trouble_keeps_the_last_good_routes(
    kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    ingress_app(kube_api, "a", backend.port, "shop", host="a.test")
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--entrypoint",
        "web=127.0.0.1:0",
        "--no-leader-election",
    )
    await asyncio.to_thread(sp.wait_ready)
    assert (await get(sp, "a.test"))[0] == 200

    # RBAC takes everything away, and the watches are cut: every relist is refused with 403.
    mark = len(sp.lines)
    kube_api.set_rules([])
    await asyncio.to_thread(kube_api.restart)
    line = (await asyncio.to_thread(sp.wait_for, r"not allowed to (list|watch) .*403", 15.0, mark)).string
    assert "Forbidden" in line and "grant it to the controller's service account" in line
    ingress_app(kube_api, "b", backend.port, "shop", host="b.test")  # cannot be seen while forbidden
    for _ in range(10):
        assert (await get(sp, "a.test"))[0] == 200  # the last good table keeps serving
        await asyncio.sleep(0.1)
    assert (await get(sp, "b.test"))[0] == 404
    kube_api.set_rules(None)  # restored: the back-off retries and the change applies
    await eventually(sp, "b.test", 200, timeout=20)
    await asyncio.to_thread(sp.wait_for, r"kubernetes: watch of .* restored after", 10.0, mark)

    # The API server goes away altogether for a while.
    mark = len(sp.lines)
    stopper = asyncio.ensure_future(asyncio.to_thread(kube_api.restart, 3.0))
    # One line for the outage: the cut watches, or the refused connections, whichever comes first.
    gone = rf"(the watch of .* at {kube_api.url} was cut off|cannot reach the API server at {kube_api.url})"
    await asyncio.to_thread(sp.wait_for, gone, 15.0, mark)
    assert (await get(sp, "a.test"))[0] == 200 and (await get(sp, "b.test"))[0] == 200
    await stopper
    kube_api.delete("Ingress", "shop", "b")
    await eventually(sp, "b.test", 404, timeout=20)
    assert (await get(sp, "a.test"))[0] == 200
    assert await asyncio.to_thread(sp.stop) == 0


async def test_manifests_and_cluster_together(
    tmp_path: Path, kube_api: KubeAPIServer, backend: Backend, serve: Callable[..., ServeProcess]
) -> None:
    """Both providers feed one table: a file's Ingress and a cluster's Ingress are both served."""
    ingress_app(kube_api, "k", backend.port, "shop", host="cluster.test")
    manifests = tmp_path / "apps.yaml"
    manifests.write_text(app_manifest("m", "file.test", "/", backend.port))
    kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
    sp = serve(
        "--kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        "--manifests",
        str(manifests),
        "--entrypoint",
        "web=127.0.0.1:0",
    )
    await asyncio.to_thread(sp.wait_ready)
    await eventually(sp, "cluster.test", 200)
    await eventually(sp, "file.test", 200)
    kube_api.delete("Ingress", "shop", "k")
    await eventually(sp, "cluster.test", 404)
    assert (await get(sp, "file.test"))[0] == 200
