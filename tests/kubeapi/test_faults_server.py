"""The fault controls of the test API server, checked with the official client: bookmarks at a chosen
interval, half-open streams of one resource, clean closes, 5xx phases, changes while it is down."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ingress, service

pytestmark = pytest.mark.timeout(30)


def _open_watch(core: client.CoreV1Api, read_timeout: float = 5.0) -> urllib3.BaseHTTPResponse:
    rv = core.list_namespaced_service("default").metadata.resource_version
    return core.list_namespaced_service(
        "default",
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=10,
        _preload_content=False,
        _request_timeout=(2, read_timeout),
    )


def _bookmark_times(resp: urllib3.BaseHTTPResponse, count: int) -> list[float]:
    times: list[float] = []
    buffer = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip() and json.loads(line)["type"] == "BOOKMARK":
                times.append(time.monotonic())
                if len(times) == count:
                    resp.close()
                    return times
    raise AssertionError(f"the stream ended after {len(times)} bookmarks")


def test_bookmarks_come_at_the_chosen_interval(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    kube_api.set_bookmark_interval(0.5)
    times = _bookmark_times(_open_watch(core), 4)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.4  # never sooner than asked (later only on a busy machine)


def test_stall_of_one_resource_leaves_the_others_talking(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    networking = client.NetworkingV1Api(api_client)
    services = _open_watch(core, read_timeout=1.0)
    rv = networking.list_namespaced_ingress("default").metadata.resource_version
    ingresses = networking.list_namespaced_ingress(
        "default",
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=10,
        _preload_content=False,
        _request_timeout=(2, 1.0),
    )
    kube_api.wait_for_watches(2)
    kube_api.stall_watches("services")
    kube_api.apply(service("web"))
    kube_api.apply(ingress("web"))
    assert kube_api.open_watches("services") == 0  # counts only streams that still talk
    assert kube_api.open_watches("ingresses") == 1
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):  # half-open: no byte, no end
        for _ in services.stream(amt=None):
            pass
    first = next(ingresses.stream(amt=None))
    assert json.loads(first.splitlines()[0])["type"] in ("ADDED", "BOOKMARK")


def test_close_watches_ends_streams_cleanly(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    resp = _open_watch(client.CoreV1Api(api_client))
    kube_api.wait_for_watches(1)
    kube_api.close_watches()
    assert resp.read() is not None  # a complete chunked answer: no ProtocolError
    assert kube_api.open_watches() == 0


def test_error_phase_answers_status_then_clears(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    kube_api.set_errors(503, verbs=["list"])
    with pytest.raises(ApiException) as err:
        core.list_namespaced_service("default")
    assert err.value.status == 503
    assert json.loads(err.value.body)["reason"] == "ServiceUnavailable"
    resp = _open_watch_ok(core)  # other verbs are not affected: a watch still opens
    resp.release_conn()
    kube_api.set_errors(0)
    assert core.list_namespaced_service("default").items == []
    assert kube_api.list_calls("services") == 2  # the refused one and the one after


def _open_watch_ok(core: client.CoreV1Api) -> urllib3.BaseHTTPResponse:
    return core.list_namespaced_service(
        "default", watch=True, resource_version="1", timeout_seconds=1, _preload_content=False
    )


def test_changes_while_down_reach_clients_only_by_listing(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    kube_api.apply_many([service("keep"), service("gone")])
    before = core.list_namespaced_service("default").metadata.resource_version
    kube_api.restart(downtime=0.1, while_down=lambda: kube_api.store_delete("Service", "default", "gone"))
    # The delete is history no watch can replay: a watch from before is told 410 Gone.
    resp = core.list_namespaced_service(
        "default", watch=True, resource_version=before, timeout_seconds=2, _preload_content=False
    )
    first = json.loads(resp.read().splitlines()[0])
    assert first["type"] == "ERROR" and first["object"]["code"] == 410
    names = [s.metadata.name for s in core.list_namespaced_service("default").items]
    assert names == ["keep"]
