"""An Ingress and an HTTPRoute claiming the same host and path: the Ingress wins in the table, and
validate (IC267) and routes --explain say so, naming both objects and where they are."""

from __future__ import annotations

from ingressctl.manifests.loader import load_text
from ingressctl.routing import compile
from ingressctl.routing.options import CompileOptions

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  rules:
  - host: shop.example
    http:
      paths:
      - path: /api
        pathType: Prefix
        backend: {service: {name: ing, port: {number: 80}}}
      - path: /exact
        pathType: Exact
        backend: {service: {name: ing, port: {number: 80}}}
"""

GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ingressctl}
spec: {controllerName: ingressctl.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: ingressctl
  listeners: [{name: web, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [shop.example]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api/}}]
    backendRefs: [{name: gw-svc, port: 80}]
  - matches:
    - {path: {type: PathPrefix, value: /api}, headers: [{name: x-beta, value: "1"}]}
    - {path: {type: Exact, value: /exact}}
    - {path: {type: Exact, value: /api}}
    - {path: {type: PathPrefix, value: /other}}
    backendRefs: [{name: gw-svc, port: 80}]
"""


def compiled(text: str):  # type: ignore[no-untyped-def]
    return compile(load_text(text, "both.yaml").snapshot, CompileOptions(gateway=True))


def test_validate_names_both_objects_their_places_and_the_winner() -> None:
    table, diagnostics = compiled(INGRESS + "---\n" + GATEWAY)
    found = sorted((d for d in diagnostics if d.code == "IC267"), key=lambda d: d.message)
    # PathPrefix /api/ = Prefix /api (a trailing slash is ignored) and Exact /exact; not the match
    # with a header (the API ranks it first), not Exact /api (another type), not /other.
    assert [(d.location.line if d.location else 0) for d in found] == [35, 39]
    first = found[0]
    assert first.message.startswith("HTTPRoute default/r (both.yaml:35:")
    assert (
        "rules[0].matches[0]: host shop.example PathPrefix /api/ is also claimed by Ingress default/shop"
        in (first.message)
    )
    assert "(both.yaml:9:" in first.message and "the Ingress wins" in first.message
    assert [loc.line for loc in first.related] == [9]
    assert "rules[1].matches[1]: host shop.example Exact /exact" in found[1].message
    # What the finding says is what the table does.
    match = table.match_request("shop.example", "/api/x", "GET", {}, "")
    assert match is not None and str(match.route.source) == "Ingress default/shop"
    beta = table.match_request("shop.example", "/api/x", "GET", {"x-beta": "1"}, "")
    assert beta is not None and str(beta.route.source) == "HTTPRoute default/r"


def test_explain_says_the_ingress_wins_over_the_same_host_and_path() -> None:
    table, _ = compiled(INGRESS + "---\n" + GATEWAY)
    explained = table.explain("shop.example", "/api/x")
    assert explained is not None
    assert "HTTPRoute default/r rules[0].matches[0] claims the same host and path: the Ingress wins" in (
        explained.reason
    )
    other = table.explain("shop.example", "/other")
    assert other is not None and "claims the same host" not in other.reason


def test_no_finding_without_an_ingress_on_that_host_and_path() -> None:
    _, diagnostics = compiled(GATEWAY)
    assert [d for d in diagnostics if d.code == "IC267"] == []
