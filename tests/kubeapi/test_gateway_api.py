"""The test API server serves the Gateway API CRDs as a cluster does, checked with the official client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.gateway_fixtures import GROUP, gateway, gateway_class, http_route, reference_grant

pytestmark = pytest.mark.timeout(30)


def _raw_get(api_client: client.ApiClient, path: str) -> int:
    """The status of a GET the typed client has no method for."""
    method, url, headers, body, _ = api_client.param_serialize("GET", path, auth_settings=["BearerToken"])
    return int(api_client.call_api(method, url, headers, body).status)


def _custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


def test_discovery_lists_the_gateway_api_group_and_its_resources(api_client: client.ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
    gw = groups[GROUP]
    assert [v.version for v in gw.versions] == ["v1", "v1beta1"]
    assert gw.preferred_version.version == "v1"
    custom = _custom(api_client)
    v1 = custom.get_api_resources(GROUP, "v1")
    by_name = {r.name: r for r in v1.resources}
    assert {
        "gatewayclasses",
        "gatewayclasses/status",
        "gateways",
        "gateways/status",
        "httproutes",
        "httproutes/status",
        "referencegrants",
    } <= set(by_name)
    assert by_name["gatewayclasses"].namespaced is False and by_name["gateways"].namespaced is True
    assert by_name["httproutes"].categories == ["gateway-api"]
    assert set(by_name["httproutes/status"].verbs) == {"get", "patch", "update"}
    assert custom.list_cluster_custom_object(GROUP, "v1", "gatewayclasses")["kind"] == "GatewayClassList"
    assert _raw_get(api_client, f"/apis/{GROUP}") == 200


def test_crds_not_installed_answer_404_everywhere(tmp_path: Path) -> None:
    with KubeAPIServer(tmp_path, gateway_api=False) as server:
        api = config.new_client_from_config(config_file=str(server.write_kubeconfig()))
        assert GROUP not in {g.name for g in client.ApisApi(api).get_api_versions().groups}
        for call in (
            lambda: _custom(api).list_custom_object_for_all_namespaces(GROUP, "v1", "httproutes"),
            lambda: _custom(api).list_cluster_custom_object(GROUP, "v1", "gatewayclasses"),
            lambda: _custom(api).get_api_resources(GROUP, "v1"),
        ):
            with pytest.raises(ApiException) as err:
                call()
            assert err.value.status == 404
        assert _raw_get(api, f"/apis/{GROUP}") == 404
        # The Ingress side is served as ever.
        assert client.NetworkingV1Api(api).list_ingress_for_all_namespaces().items == []
        api.close()


def test_httproute_gets_the_crd_schema_defaults(api_client: client.ApiClient) -> None:
    custom = _custom(api_client)
    route = http_route(
        "shop",
        parent="gw",
        rules=[
            {"backendRefs": [{"name": "web", "port": 80}]},
            {
                "matches": [
                    {
                        "path": {"value": "/api"},
                        "headers": [{"name": "x-v", "value": "2"}],
                        "queryParams": [{"name": "q", "value": "1"}],
                    },
                    {"method": "GET"},
                ],
                "filters": [
                    {"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}},
                    {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "m", "port": 80}}},
                ],
                "backendRefs": [{"name": "api", "port": 8080, "weight": 0}],
            },
        ],
    )
    stored = custom.create_namespaced_custom_object(GROUP, "v1", "default", "httproutes", route)
    spec = stored["spec"]
    assert spec["parentRefs"] == [{"name": "gw", "group": GROUP, "kind": "Gateway"}]
    first, second = spec["rules"]
    assert first["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert first["backendRefs"] == [{"name": "web", "port": 80, "group": "", "kind": "Service", "weight": 1}]
    api_match, method_match = second["matches"]
    assert api_match["path"] == {"type": "PathPrefix", "value": "/api"}
    assert api_match["headers"][0]["type"] == "Exact" and api_match["queryParams"][0]["type"] == "Exact"
    assert method_match["path"] == {"type": "PathPrefix", "value": "/"}
    assert second["backendRefs"][0]["weight"] == 0  # given values are kept
    redirect, mirror = second["filters"]
    assert redirect["requestRedirect"]["statusCode"] == 302
    assert mirror["requestMirror"]["backendRef"] == {"name": "m", "port": 80, "group": "", "kind": "Service"}
    # A route without rules gets the one catch-all rule.
    bare = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "httproutes", http_route("bare", parent="gw", rules=None)
    )
    assert bare["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]
    assert "status" not in bare


def test_gateway_and_class_get_listener_defaults_and_the_pending_status(api_client: client.ApiClient) -> None:
    custom = _custom(api_client)
    gc = custom.create_cluster_custom_object(GROUP, "v1", "gatewayclasses", gateway_class("ours"))
    assert gc["status"]["conditions"] == [
        {
            "type": "Accepted",
            "status": "Unknown",
            "reason": "Pending",
            "message": "Waiting for controller",
            "lastTransitionTime": "1970-01-01T00:00:00Z",
        }
    ]
    body = gateway(
        "gw",
        "ours",
        listeners=[
            {"name": "web", "port": 80, "protocol": "HTTP"},
            {
                "name": "secure",
                "port": 443,
                "protocol": "HTTPS",
                "hostname": "*.example.test",
                "tls": {"certificateRefs": [{"name": "cert"}]},
                "allowedRoutes": {"namespaces": {"from": "All"}, "kinds": [{"kind": "HTTPRoute"}]},
            },
        ],
    )
    body["status"] = {"conditions": [{"type": "Accepted", "status": "True"}]}  # ignored on create
    gw = custom.create_namespaced_custom_object(GROUP, "v1", "default", "gateways", body)
    web, secure = gw["spec"]["listeners"]
    assert web["allowedRoutes"] == {"namespaces": {"from": "Same"}}
    assert secure["allowedRoutes"] == {
        "namespaces": {"from": "All"},
        "kinds": [{"kind": "HTTPRoute", "group": GROUP}],
    }
    assert secure["tls"] == {
        "mode": "Terminate",
        "certificateRefs": [{"name": "cert", "group": "", "kind": "Secret"}],
    }
    assert [(c["type"], c["status"], c["reason"]) for c in gw["status"]["conditions"]] == [
        ("Accepted", "Unknown", "Pending"),
        ("Programmed", "Unknown", "Pending"),
    ]


def test_missing_required_fields_are_422(api_client: client.ApiClient) -> None:
    custom = _custom(api_client)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, "v1", "default", "gateways", gateway("gw", "", listeners=[{"name": "web", "port": 80}])
        )
    assert err.value.status == 422 and "spec.gatewayClassName" in err.value.body


def test_status_writes_do_not_bump_generation_and_spec_writes_do(api_client: client.ApiClient) -> None:
    custom = _custom(api_client)
    created = custom.create_namespaced_custom_object(
        GROUP, "v1", "default", "httproutes", http_route("r", parent="gw")
    )
    assert created["metadata"]["generation"] == 1
    status = {
        "parents": [
            {
                "parentRef": {"name": "gw"},
                "controllerName": "ingressctl.io/gateway-controller",
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "True",
                        "reason": "Accepted",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "observedGeneration": 1,
                    }
                ],
            }
        ]
    }
    written = custom.replace_namespaced_custom_object_status(
        GROUP, "v1", "default", "httproutes", "r", {**created, "status": status}
    )
    assert written["metadata"]["generation"] == 1 and written["status"] == status
    patched = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", "default", "httproutes", "r", {"status": {"parents": []}}
    )
    assert patched["metadata"]["generation"] == 1
    # The main resource ignores status; a changed spec bumps generation.
    spec = dict(written["spec"], hostnames=["shop.example.test"])
    replaced = custom.replace_namespaced_custom_object(
        GROUP, "v1", "default", "httproutes", "r", {**patched, "spec": spec, "status": status}
    )
    assert replaced["metadata"]["generation"] == 2 and replaced["status"] == {"parents": []}
    # Labels are metadata: no new generation.
    relabelled = custom.patch_namespaced_custom_object(
        GROUP, "v1", "default", "httproutes", "r", {"metadata": {"labels": {"a": "b"}}}
    )
    assert relabelled["metadata"]["generation"] == 2
    with pytest.raises(ApiException) as err:  # optimistic concurrency holds for status too
        custom.replace_namespaced_custom_object_status(GROUP, "v1", "default", "httproutes", "r", written)
    assert err.value.status == 409


def test_list_watch_and_bookmarks(kube_api: KubeAPIServer, api_client: client.ApiClient) -> None:
    kube_api.apply(http_route("before", "shop", parent="gw"))
    custom = _custom(api_client)
    listed = custom.list_custom_object_for_all_namespaces(GROUP, "v1", "httproutes")
    assert listed["kind"] == "HTTPRouteList" and [i["metadata"]["name"] for i in listed["items"]] == [
        "before"
    ]
    assert listed["items"][0]["spec"]["rules"][0]["matches"][0]["path"]["type"] == "PathPrefix"
    rv = listed["metadata"]["resourceVersion"]
    kube_api.apply(http_route("r", "shop", parent="gw"))
    kube_api.delete("HTTPRoute", "shop", "r")
    seen: list[tuple[str, str]] = []
    w = watch.Watch()
    for event in w.stream(
        custom.list_custom_object_for_all_namespaces,
        GROUP,
        "v1",
        "httproutes",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    ):
        obj = event["object"]
        seen.append((event["type"], obj["metadata"].get("name", "")))
        if event["type"] == "BOOKMARK":
            assert obj["kind"] == "HTTPRoute" and obj["apiVersion"] == f"{GROUP}/v1"
            w.stop()
    assert seen[:2] == [("ADDED", "r"), ("DELETED", "r")] and seen[-1][0] == "BOOKMARK"


def test_reference_grant_is_served_as_v1beta1_and_v1(api_client: client.ApiClient) -> None:
    custom = _custom(api_client)
    custom.create_namespaced_custom_object(
        GROUP, "v1beta1", "backends", "referencegrants", reference_grant("allow", "backends", from_ns="shop")
    )
    as_v1 = custom.get_namespaced_custom_object(GROUP, "v1", "backends", "referencegrants", "allow")
    assert as_v1["apiVersion"] == f"{GROUP}/v1" and as_v1["spec"]["from"][0]["namespace"] == "shop"
    listed = custom.list_namespaced_custom_object(GROUP, "v1beta1", "backends", "referencegrants")
    assert listed["apiVersion"] == f"{GROUP}/v1beta1" and len(listed["items"]) == 1


def test_rbac_names_the_gateway_status_subresource(kube_api: KubeAPIServer) -> None:
    kube_api.tokens["limited"] = "system:serviceaccount:ingress:ingressctl"
    kube_api.rules = [
        rule(
            "system:serviceaccount:ingress:ingressctl",
            ["get", "list", "watch"],
            ["httproutes"],
            groups=[GROUP],
        )
    ]
    kube_api.apply(http_route("r", parent="gw"))
    api = config.new_client_from_config(config_file=str(kube_api.write_kubeconfig(token="limited")))
    custom = _custom(api)
    current = custom.get_namespaced_custom_object(GROUP, "v1", "default", "httproutes", "r")
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object_status(GROUP, "v1", "default", "httproutes", "r", current)
    assert err.value.status == 403
    assert (
        'cannot update resource "httproutes/status" in API group "gateway.networking.k8s.io"'
        in json.loads(err.value.body)["message"]
    )
    api.close()
