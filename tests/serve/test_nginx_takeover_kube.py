"""Switching a cluster from ingress-nginx by replacing the controller Deployment only: `serve
--kubernetes --ingress-class nginx --controller-name k8s.io/ingress-nginx` against the test API
server (tests/kubeapi, driven through the official client) serves what ingress-nginx served, writes
their status, and leaves the rest alone.

ingress-nginx semantics (its docs, "Multiple Ingress controllers" and cli-arguments): an Ingress is
its own when `spec.ingressClassName` names an IngressClass whose `spec.controller` is
`k8s.io/ingress-nginx` or the `kubernetes.io/ingress.class` annotation equals `--ingress-class`;
Ingresses without a class only with `--watch-ingress-without-class=true`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress_app, ingress_class, load_balancer
from tests.support.polling import eventually

from .conftest import ServeProcess
from .test_nginx_takeover import path_backends

pytestmark = pytest.mark.timeout(90)


async def get(sp: ServeProcess, host: str, path: str = "/") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(sp.url(path), headers={"Host": host}) as resp,
    ):
        return resp.status, await resp.text()


async def test_takeover_from_ingress_nginx_in_a_cluster(
    kube_api: KubeAPIServer, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("app") as ports:
        port = ports["app"]
        kube_api.apply(ingress_class("nginx", controller="k8s.io/ingress-nginx"))
        kube_api.apply(ingress_class("public", controller="k8s.io/ingress-nginx"))
        kube_api.apply(ingress_class("mine", controller="ingressctl.io/ingress-controller"))
        rewrite = {
            "nginx.ingress.kubernetes.io/use-regex": "true",
            "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        }
        ingress_app(
            kube_api, "a", port, ingress_class="nginx", path="/something(/|$)(.*)", annotations=rewrite
        )
        ingress_app(kube_api, "b", port, annotations={"kubernetes.io/ingress.class": "nginx"})
        ingress_app(kube_api, "c", port)  # no class
        ingress_app(kube_api, "d", port, ingress_class="public")  # another class of the same controller
        ingress_app(kube_api, "e", port, ingress_class="mine")  # ingressctl's own class: not in this mode
        kubeconfig = kube_api.write_kubeconfig(token="test-token", context="ctx")
        sp = serve(
            "--kubernetes",
            "--kubeconfig",
            str(kubeconfig),
            "--ingress-class",
            "nginx",
            "--controller-name",
            "k8s.io/ingress-nginx",
            "--entrypoint",
            "web=127.0.0.1:0",
            "--publish-address",
            "192.0.2.10",
            "--leader-election-namespace",
            "ingressctl",
        )
        await asyncio.to_thread(sp.wait_ready)
        assert await get(sp, "a.test", "/something/new?q=1") == (200, "app /new?q=1")
        assert await get(sp, "b.test", "/x") == (200, "app /x")
        assert await get(sp, "d.test", "/x") == (200, "app /x")
        for host in ("c.test", "e.test"):
            assert (await get(sp, host))[0] == 404, host
        want = [{"ip": "192.0.2.10"}]
        await eventually(
            lambda: all(load_balancer(kube_api, n) == want for n in ("a", "b", "d")), "status of a, b and d"
        )
        assert load_balancer(kube_api, "c") == [] and load_balancer(kube_api, "e") == []
        assert "Traceback" not in sp.text
