"""The provider with `--gateway` against the test API server: the Gateway API kinds are listed and watched,
and a cluster without their CRDs, or without the permissions to read them, still serves Ingresses."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.model.gateway import FromNamespaces
from ingressctl.providers.kubernetes import KubernetesProvider, list_snapshot
from ingressctl.providers.kubernetes.kinds import GATEWAY, HTTP_ROUTE
from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import ingress, secret
from tests.kubeapi.gateway_fixtures import CONTROLLER, GROUP, gateway, gateway_class, http_route
from tests.kubernetes.conftest import FAST, kube_config, running

pytestmark = pytest.mark.timeout(60)

LOGGER = "ingressctl.providers.kubernetes"
USER = "system:serviceaccount:ingressctl:ingressctl"
CORE_KINDS = ["ingresses", "ingressclasses", "services", "endpointslices", "secrets"]


def _lines(caplog: pytest.LogCaptureFixture, pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and regex.search(r.getMessage())]


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _requests(server: KubeAPIServer, path_end: str) -> int:
    return sum(1 for r in server.request_log() if r.path.endswith(path_end))


async def test_missing_crds_leave_ingresses_served_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3, gateway_api=False) as server:
        server.apply(ingress("web", "shop", host="web.test"))
        timing = dataclasses.replace(FAST, missing_kind_retry=0.2)
        provider = KubernetesProvider(kube_config(server), gateway=True, timing=timing)
        async with running(provider) as recorder:
            snapshot = await recorder.wait(lambda s: [i.meta.name for i in s.ingresses] == ["web"])
            assert snapshot.ingresses[0].rules[0].host == "web.test"
            # Looked again for the CRDs a few times (every 0.2s) ...
            await _until(lambda: _requests(server, "/httproutes") >= 3)
            assert recorder.statuses[-1].healthy, recorder.statuses[-1]
            # ... and the Ingress side keeps following changes.
            server.apply(ingress("api", "shop", host="api.test"))
            await recorder.wait(lambda s: {i.meta.name for i in s.ingresses} == {"web", "api"})
    said = _lines(caplog, "does not serve gateway.networking.k8s.io")
    assert len(said) == 1, said
    assert "are the Gateway API CRDs installed?" in said[0] and "Ingresses are" in said[0]


async def test_gateway_kinds_refused_with_403_do_not_hold_ingresses_back(
    kube_api: KubeAPIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    kube_api.tokens["sa"] = USER
    kube_api.rules = [rule(USER, ["get", "list", "watch"], CORE_KINDS)]
    kube_api.apply(ingress("web", "shop", host="web.test"))
    provider = KubernetesProvider(kube_config(kube_api, "sa"), gateway=True, timing=FAST)
    async with running(provider) as recorder:
        await recorder.wait(lambda s: [i.meta.name for i in s.ingresses] == ["web"])
        bad = await recorder.wait_status(lambda s: not s.healthy and GROUP in (s.message or ""))
        assert "forbidden" in (bad.message or "")
        # Granted: the Gateway API objects arrive and the provider is healthy again.
        kube_api.apply_many(
            [gateway_class("ours"), gateway("gw", "ours", "shop"), http_route("r", "shop", parent="gw")]
        )
        kube_api.rules = None
        await recorder.wait_status(lambda s: s.healthy, since=len(recorder.statuses))
    errors = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert any("httproutes" in r.getMessage() and "403" in r.getMessage() for r in errors), errors


async def test_gateway_objects_are_listed_and_watched_with_their_status(kube_api: KubeAPIServer) -> None:
    kube_api.apply_many([gateway_class("ours"), gateway("gw", "ours", "shop")])
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as recorder:
        await recorder.wait(lambda s: True)

        def observed(kind_plural: str) -> dict[tuple[str, str], int]:
            found: dict[tuple[str, str], int] = {}
            for worker in provider._workers:
                if worker.kind.plural == kind_plural:
                    found.update({k: o.generation for k, o in worker.observed().items()})
            return found

        assert observed(GATEWAY.plural) == {("shop", "gw"): 1}
        kube_api.apply(http_route("r", "shop", parent="gw", backend="web"))
        await _until(lambda: observed(HTTP_ROUTE.plural) == {("shop", "r"): 1})
        snap = await recorder.wait(lambda s: [r.meta.name for r in s.http_routes] == ["r"])
        assert [c.controller_name for c in snap.gateway_classes] == [CONTROLLER]
        assert snap.gateways[0].listeners[0].allowed_routes.namespaces_from is FromNamespaces.SAME
        route = snap.http_routes[0]
        assert route.meta.generation == 1 and route.parent_refs[0].kind == "Gateway"
        assert route.rules[0].backend_refs[0].weight == 1  # the API server's default, as read
        kube_api.apply(http_route("r", "shop", parent="gw", backend="api"))
        await _until(lambda: observed(HTTP_ROUTE.plural) == {("shop", "r"): 2})
        snap = await recorder.wait(lambda s: [r.meta.generation for r in s.http_routes] == [2])
        assert snap.http_routes[0].rules[0].backend_refs[0].name == "api"
        kube_api.delete("HTTPRoute", "shop", "r")
        await _until(lambda: observed(HTTP_ROUTE.plural) == {})
        await recorder.wait(lambda s: not s.http_routes)
    assert {r.path for r in kube_api.request_log() if r.verb == "list" and GROUP in r.path} == {
        f"/apis/{GROUP}/v1/gatewayclasses",
        f"/apis/{GROUP}/v1/gateways",
        f"/apis/{GROUP}/v1/httproutes",
        f"/apis/{GROUP}/v1beta1/referencegrants",
    }


def test_one_shot_listing_reads_the_gateway_kinds_and_tolerates_missing_crds(
    kube_api: KubeAPIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kube_api.apply_many(
        [gateway_class("ours"), gateway("gw", "ours", "shop"), http_route("r", "shop", parent="gw")]
    )
    snap = list_snapshot(kube_config(kube_api), gateway=True)
    assert [r.meta.name for r in snap.http_routes] == ["r"] and len(snap.gateways) == 1
    assert list_snapshot(kube_config(kube_api)).http_routes == ()  # without --gateway: not read
    with KubeAPIServer(tmp_path / "bare", gateway_api=False) as bare:
        bare.apply(ingress("web", "shop"))
        snap = list_snapshot(kube_config(bare), gateway=True)
        assert [i.meta.name for i in snap.ingresses] == ["web"] and snap.gateways == ()
    # Without the permission to read them: the Ingress side is read, a WARNING says what is missing.
    kube_api.apply(ingress("web", "shop"))
    kube_api.tokens["sa"] = USER
    kube_api.rules = [rule(USER, ["list"], CORE_KINDS)]
    caplog.set_level(logging.WARNING, logger=LOGGER)
    snap = list_snapshot(kube_config(kube_api, "sa"), gateway=True)
    assert [i.meta.name for i in snap.ingresses] == ["web"] and snap.http_routes == ()
    assert any("403" in line and "not read" in line for line in _lines(caplog, "httproutes"))


async def test_crds_installed_later_are_picked_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3, gateway_api=False) as server:
        server.apply(ingress("web", "shop", host="web.test"))
        timing = dataclasses.replace(FAST, missing_kind_retry=0.2)
        provider = KubernetesProvider(kube_config(server), gateway=True, timing=timing)
        async with running(provider) as recorder:
            await recorder.wait(lambda s: len(s.ingresses) == 1)
            server.install_gateway_api()
            server.apply_many([gateway_class("ours"), gateway("gw", "ours", "shop")])
            server.apply(http_route("r", "shop", parent="gw", backend="web"))
            await recorder.wait(
                lambda s: [r.meta.name for r in s.http_routes] == ["r"] and len(s.gateways) == 1
            )
            await _until(lambda: bool(_lines(caplog, r"gateway.networking.k8s.io API restored after")))
    assert len(_lines(caplog, "does not serve gateway.networking.k8s.io")) == 1


async def test_secrets_named_by_gateway_listeners_are_kept(kube_api: KubeAPIServer) -> None:
    listeners = [
        {
            "name": "secure",
            "port": 443,
            "protocol": "HTTPS",
            "tls": {"certificateRefs": [{"name": "cert"}, {"name": "shared", "namespace": "certs"}]},
        }
    ]
    kube_api.apply_many(
        [
            gateway_class("ours"),
            gateway("gw", "ours", "shop", listeners=listeners),
            secret("cert", "shop", type_="kubernetes.io/tls"),
            secret("shared", "certs", type_="kubernetes.io/tls"),
            secret("unrelated", "shop", type_="kubernetes.io/tls"),
        ]
    )
    provider = KubernetesProvider(kube_config(kube_api), gateway=True, timing=FAST)
    async with running(provider) as recorder:
        snap = await recorder.wait(lambda s: len(s.gateways) == 1)
        assert sorted((s.meta.namespace, s.meta.name) for s in snap.secrets) == [
            ("certs", "shared"),
            ("shop", "cert"),
        ]
