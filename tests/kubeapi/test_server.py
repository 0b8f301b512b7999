"""The test API server, checked with the official client: if these fail, provider tests prove nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader

from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import ingress, service

pytestmark = pytest.mark.timeout(30)


def _events(api_client: client.ApiClient, func: Any, count: int, **kwargs: Any) -> list[tuple[str, str, str]]:
    """Collect `count` events from a watch with the official Watch helper, then stop."""
    seen: list[tuple[str, str, str]] = []
    w = watch.Watch()
    for event in w.stream(func, timeout_seconds=5, **kwargs):
        raw = event["raw_object"]
        seen.append((event["type"], raw["metadata"].get("name", ""), raw["metadata"]["resourceVersion"]))
        if len(seen) >= count:
            w.stop()
    return seen


def test_discovery_documents(api_client: client.ApiClient) -> None:
    assert client.VersionApi(api_client).get_code().git_version.startswith("v1.31")
    assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io"} <= groups
    names = {r.name for r in client.NetworkingV1Api(api_client).get_api_resources().resources}
    assert {"ingresses", "ingresses/status", "ingressclasses"} <= names
    assert "secrets" in {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}


def test_endpointslices_can_be_unserved(tmp_path: Path) -> None:
    with KubeAPIServer(tmp_path, serve_endpointslices=False) as server:
        api = config.new_client_from_config(config_file=str(server.write_kubeconfig()))
        with pytest.raises(ApiException) as err:
            client.DiscoveryV1Api(api).list_endpoint_slice_for_all_namespaces()
        assert err.value.status == 404
        groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
        assert "discovery.k8s.io" not in groups


def test_list_with_label_and_field_selectors(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    kube_api.apply(service("a", labels={"tier": "web", "env": "prod"}))
    kube_api.apply(service("b", labels={"tier": "db", "env": "prod"}))
    kube_api.apply(service("c", "other", labels={"tier": "web"}))
    core = client.CoreV1Api(api_client)

    def names(**kw: Any) -> list[str]:
        return [s.metadata.name for s in core.list_service_for_all_namespaces(**kw).items]

    assert names() == ["a", "b", "c"]
    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier!=web") == ["b"]
    assert names(label_selector="tier in (db, cache)") == ["b"]
    assert names(label_selector="tier notin (db),env") == ["a"]
    assert names(label_selector="!env") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=other") == ["c"]
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["a", "b"]
    with pytest.raises(ApiException) as err:
        core.list_service_for_all_namespaces(field_selector="spec.type=ClusterIP")
    assert err.value.status == 400


def test_list_items_carry_metadata_and_pagination_is_complete(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    for i in range(7):
        kube_api.apply(ingress(f"ing-{i}"))
    net = client.NetworkingV1Api(api_client)
    first = net.list_ingress_for_all_namespaces(limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    assert first.metadata.remaining_item_count == 4
    item = first.items[0].metadata
    assert item.uid and item.resource_version and item.creation_timestamp and item.namespace == "default"
    names = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = net.list_ingress_for_all_namespaces(limit=3, _continue=token)
        names += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert names == [f"ing-{i}" for i in range(7)]


def test_watch_sends_changes_in_order_after_the_list_version(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    kube_api.apply(service("before"))
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    kube_api.apply(service("web"))
    kube_api.apply(service("web", port=81))
    kube_api.delete("Service", "default", "web")
    events = _events(api_client, core.list_namespaced_service, 3, namespace="default", resource_version=rv)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    versions = [int(v) for _, _, v in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


def test_watch_without_version_starts_with_current_state_and_follows_selectors(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    kube_api.apply(service("a", labels={"app": "x"}))
    core = client.CoreV1Api(api_client)
    result: list[tuple[str, str, str]] = []
    thread = threading.Thread(
        target=lambda: result.extend(
            _events(api_client, core.list_namespaced_service, 3, namespace="default", label_selector="app=x")
        )
    )
    thread.start()
    kube_api.wait_for_watches(1, "services")
    kube_api.apply(service("b", labels={"app": "y"}))  # never matches
    kube_api.apply(service("b", labels={"app": "x"}))  # now matches: ADDED
    kube_api.apply(service("a", labels={"app": "y"}))  # no longer matches: DELETED
    thread.join(10)
    assert [(t, n) for t, n, _ in result] == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_bookmarks_carry_the_current_version(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    kube_api.apply(service("other", "elsewhere"))
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_service,
        namespace="default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        assert event["type"] == "BOOKMARK"
        assert int(event["raw_object"]["metadata"]["resourceVersion"]) > int(rv)
        w.stop()


def test_watch_stream_ends_after_timeout_seconds(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    events = list(
        watch.Watch().stream(
            core.list_namespaced_service, namespace="default", resource_version=rv, timeout_seconds=1
        )
    )
    assert events == []


def test_too_old_version_gives_an_expired_error_event(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    kube_api.apply(service("web"))
    kube_api.compact()
    with pytest.raises(ApiException) as err:
        list(
            watch.Watch().stream(
                core.list_namespaced_service, namespace="default", resource_version=rv, timeout_seconds=2
            )
        )
    assert err.value.status == 410
    assert "Expired" in str(err.value.reason)


def test_too_old_version_can_be_refused_with_410(tmp_path: Path) -> None:
    with KubeAPIServer(tmp_path, expired_watch="status") as server:
        api = config.new_client_from_config(config_file=str(server.write_kubeconfig()))
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_service("default").metadata.resource_version
        server.apply(service("web"))
        server.compact()
        with pytest.raises(ApiException) as err:
            core.list_namespaced_service("default", watch=True, resource_version=rv, _preload_content=False)
        assert err.value.status == 410
        assert json.loads(err.value.body)["reason"] == "Expired"


def test_open_stream_gets_error_event_on_compaction(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    resp = core.list_namespaced_service(
        "default", watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False
    )
    kube_api.wait_for_watches(1)
    kube_api.compact()
    lines = [json.loads(line) for line in resp.read().splitlines() if line]
    assert lines[-1]["type"] == "ERROR" and lines[-1]["object"]["code"] == 410


def test_restart_changes_every_version_and_drops_watches(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    kube_api.apply(service("web"))
    before = core.read_namespaced_service("web", "default").metadata.resource_version
    resp = core.list_namespaced_service(
        "default", watch=True, resource_version=before, _preload_content=False
    )
    kube_api.wait_for_watches(1)
    kube_api.restart(downtime=0.2)
    with pytest.raises((urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError)):
        resp.read()
    after = core.read_namespaced_service("web", "default").metadata.resource_version
    assert after != before
    with pytest.raises(ApiException) as err:
        list(
            watch.Watch().stream(
                core.list_namespaced_service, namespace="default", resource_version=before, timeout_seconds=2
            )
        )
    assert err.value.status == 410


def test_stream_broken_mid_line(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    resp = core.list_namespaced_service("default", watch=True, resource_version=rv, _preload_content=False)
    kube_api.wait_for_watches(1)
    kube_api.break_stream_midline()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        resp.read()


def test_stalled_stream_sends_nothing(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    rv = core.list_namespaced_service("default").metadata.resource_version
    resp = core.list_namespaced_service(
        "default",
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        _preload_content=False,
        _request_timeout=(2, 0.5),
    )
    kube_api.wait_for_watches(1)
    kube_api.stall_watches()
    kube_api.apply(service("web"))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        for _ in resp.stream(amt=None):
            pass


def test_watchlist_requests_are_refused_with_422(
    kube_api: KubeAPIServer, api_client: client.ApiClient
) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).list_namespaced_service(
            "default",
            watch=True,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            _preload_content=False,
        )
    assert err.value.status == 422


def test_lease_update_with_stale_version_conflicts(api_client: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api_client)
    body = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
    created = coord.create_namespaced_lease("default", body)
    first = coord.replace_namespaced_lease(
        "leader",
        "default",
        {
            "metadata": {"name": "leader", "resourceVersion": created.metadata.resource_version},
            "spec": {"holderIdentity": "b"},
        },
    )
    assert first.spec.holder_identity == "b"
    with pytest.raises(ApiException) as err:
        coord.replace_namespaced_lease(
            "leader",
            "default",
            {
                "metadata": {"name": "leader", "resourceVersion": created.metadata.resource_version},
                "spec": {"holderIdentity": "c"},
            },
        )
    assert err.value.status == 409
    assert json.loads(err.value.body)["reason"] == "Conflict"
    with pytest.raises(ApiException) as again:
        coord.create_namespaced_lease("default", body)
    assert again.value.status == 409


def test_ingress_status_subresource(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    kube_api.apply(ingress("web"))
    net = client.NetworkingV1Api(api_client)
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    patched = net.patch_namespaced_ingress_status("web", "default", status)
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.1"
    current = net.read_namespaced_ingress("web", "default")
    current.status = None  # an update of the main resource leaves status alone
    net.replace_namespaced_ingress("web", "default", current)
    assert net.read_namespaced_ingress("web", "default").status.load_balancer.ingress[0].ip == "192.0.2.1"
    current = net.read_namespaced_ingress("web", "default")
    current.status.load_balancer.ingress[0].ip = "192.0.2.2"
    net.replace_namespaced_ingress_status("web", "default", current)
    assert net.read_namespaced_ingress("web", "default").status.load_balancer.ingress[0].ip == "192.0.2.2"


def test_bad_token_is_401(kube_api: KubeAPIServer) -> None:
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig(token="wrong")))
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_service_for_all_namespaces()
    assert err.value.status == 401
    assert json.loads(err.value.body)["reason"] == "Unauthorized"


def test_rbac_rules_answer_403_naming_verb_and_resource(kube_api: KubeAPIServer) -> None:
    user = "system:serviceaccount:x:y"
    kube_api.add_token("sa-token", user)
    kube_api.set_rules([rule(user, ["list"], ["services"], groups=[""])])
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig(token="sa-token")))
    client.CoreV1Api(api).list_service_for_all_namespaces()
    with pytest.raises(ApiException) as err:
        client.NetworkingV1Api(api).list_ingress_for_all_namespaces()
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == (
        'ingresses.networking.k8s.io is forbidden: User "system:serviceaccount:x:y" cannot list resource '
        '"ingresses" in API group "networking.k8s.io" at the cluster scope'
    )


def test_in_cluster_layout(kube_api: KubeAPIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sa = tmp_path / "serviceaccount"
    for key, value in kube_api.write_serviceaccount(sa).items():
        monkeypatch.setenv(key, value)
    configuration = client.Configuration()
    InClusterConfigLoader(token_filename=str(sa / "token"), cert_filename=str(sa / "ca.crt")).load_and_set(
        configuration
    )
    api = client.ApiClient(configuration)
    kube_api.apply(service("web"))
    assert [s.metadata.name for s in client.CoreV1Api(api).list_namespaced_service("default").items] == [
        "web"
    ]


def test_slow_responses(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    kube_api.set_delay(1.0, path_contains="/services")
    # The client retries a timed-out read (urllib3's default Retry) and then gives up.
    with pytest.raises(urllib3.exceptions.MaxRetryError) as err:
        client.CoreV1Api(api_client).list_service_for_all_namespaces(_request_timeout=(2, 0.3))
    assert isinstance(err.value.reason, urllib3.exceptions.ReadTimeoutError)
    kube_api.set_delay(0)
    client.CoreV1Api(api_client).list_service_for_all_namespaces(_request_timeout=(2, 0.3))
