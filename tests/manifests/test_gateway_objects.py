"""Reading Gateway API objects (ingressctl.manifests.gateway): the API server's defaults, and
findings at the line of the field that is wrong."""

from __future__ import annotations

from pathlib import Path

from ingressctl.manifests import load_paths
from ingressctl.manifests.objects import object_from_dict
from ingressctl.model.gateway import (
    FromNamespaces,
    Gateway,
    HTTPRoute,
    PathMatchType,
    ReferenceGrant,
    ValueMatchType,
)

GROUP = "gateway.networking.k8s.io"


def test_http_route_defaults_as_the_api_server_applies_them() -> None:
    raw = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "apps", "generation": 4},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {"backendRefs": [{"name": "svc", "port": 80}]},
                {
                    "matches": [{"headers": [{"name": "x", "value": "1"}]}],
                    "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}],
                },
            ],
        },
    }
    route, found = object_from_dict(raw, strict=True)
    assert not found and isinstance(route, HTTPRoute)
    assert route.meta.generation == 4
    parent = route.parent_refs[0]
    assert (parent.group, parent.kind, parent.namespace) == (GROUP, "Gateway", None)
    first, second = route.rules
    assert first.matches[0].path.type is PathMatchType.PATH_PREFIX and first.matches[0].path.value == "/"
    ref = first.backend_refs[0]
    assert (ref.group, ref.kind, ref.weight) == ("", "Service", 1)
    assert second.matches[0].path.value == "/" and second.matches[0].headers[0].type is ValueMatchType.EXACT
    assert (
        second.filters[0].request_redirect is not None
        and second.filters[0].request_redirect.status_code == 302
    )


def test_a_route_without_rules_matches_everything() -> None:
    raw = {"apiVersion": f"{GROUP}/v1beta1", "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {}}
    route, _ = object_from_dict(raw)
    assert isinstance(route, HTTPRoute) and route.rules[0].matches[0].path.value == "/"


def test_gateway_listener_defaults() -> None:
    raw = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": "c", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }
    gateway, found = object_from_dict(raw, strict=True)
    assert not found and isinstance(gateway, Gateway)
    assert gateway.listeners[0].allowed_routes.namespaces_from is FromNamespaces.SAME


def test_reference_grant_v1beta1_and_v1() -> None:
    for version in ("v1beta1", "v1"):
        raw = {
            "apiVersion": f"{GROUP}/{version}",
            "kind": "ReferenceGrant",
            "metadata": {"name": "g", "namespace": "backends"},
            "spec": {
                "from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "apps"}],
                "to": [{"group": "", "kind": "Service"}],
            },
        }
        grant, found = object_from_dict(raw, strict=True)
        assert not found and isinstance(grant, ReferenceGrant)
        assert grant.to[0].name is None


def test_bad_fields_are_reported_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "route.yaml"
    path.write_text(
        f"""apiVersion: {GROUP}/v1
kind: HTTPRoute
metadata:
  name: r
spec:
  parentRefs:
  - name: gw
  rules:
  - matches:
    - path:
        type: Prefix
        value: /x
    - headr:
      - name: x
    - method: FETCH
    backendRefs:
    - name: svc
      port: "80"
      weight: -1
"""
    )
    result = load_paths([str(path)])
    found = sorted((d.code, d.location.line if d.location else 0) for d in result.diagnostics)
    assert ("IC109", 11) in found  # type: Prefix (the Gateway API says PathPrefix)
    assert ("IC103", 13) in found  # headr: unknown field, a typo that would widen the match
    assert ("IC109", 15) in found  # method FETCH
    assert ("IC102", 18) in found  # a quoted port
    assert ("IC109", 19) in found  # negative weight


def test_a_wrong_condition_drops_its_match_instead_of_widening_it(tmp_path: Path) -> None:
    path = tmp_path / "route.yaml"
    path.write_text(
        f"""apiVersion: {GROUP}/v1
kind: HTTPRoute
metadata: {{name: r}}
spec:
  rules:
  - matches:
    - headers: [{{nam: x-admin, value: "1"}}]
    - path: {{type: Exact, value: /ok}}
"""
    )
    result = load_paths([str(path)])
    route = result.snapshot.http_routes[0]
    assert [m.path.value for m in route.rules[0].matches] == ["/ok"]
    assert any(d.code == "IC103" and d.location and d.location.line == 7 for d in result.diagnostics)
