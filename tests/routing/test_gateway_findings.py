"""What `validate` says about HTTPRoutes (IC26x) and the chain their filters compile to."""

from __future__ import annotations

from ingressctl.gateway.chain import BackendErrorSpec, GatewayRedirectSpec, MirrorSpec
from ingressctl.model import Diagnostic
from ingressctl.routing import CompileCache, RoutingTable, compile
from ingressctl.routing.chain import route_chain
from ingressctl.routing.chain_rewrites import PathRewriteSpec, RequestHeadersSpec, ResponseHeadersSpec
from ingressctl.routing.options import CompileOptions
from tests.routing.gateway_builders import CLASS, GROUP, service, snapshot

OPTIONS = CompileOptions(gateway=True, entrypoint_ports=(("web", 8080, False),))
GATEWAY = f"""apiVersion: {GROUP}
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: ingressctl
  listeners: [{{name: http, port: 8080, protocol: HTTP}}]
"""


def route(name: str, rules: str, created: str = "2024-01-01T00:00:00Z") -> str:
    return f"""apiVersion: {GROUP}
kind: HTTPRoute
metadata: {{name: {name}, namespace: default, creationTimestamp: "{created}"}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [h.test]
  rules:
{rules}"""


def compiled(*docs: str) -> tuple[RoutingTable, list[Diagnostic]]:
    return compile(
        snapshot("---\n".join([CLASS, GATEWAY, service("svc"), service("mirror"), *docs])), OPTIONS
    )


def test_identical_matches_of_two_routes_are_a_conflict_the_older_wins() -> None:
    rules = "  - matches: [{headers: [{name: x, value: '1'}]}]\n    backendRefs: [{name: svc, port: 8080}]\n"
    table, found = compiled(route("old", rules), route("new", rules, "2025-01-01T00:00:00Z"))
    conflicts = [d for d in found if d.code == "IC263"]
    assert len(conflicts) == 1 and "HTTPRoute default/new" in conflicts[0].message
    match = table.match_request("h.test", "/", "GET", {"x": "1"}, "")
    assert match is not None and match.route.source.name == "old"


def test_unsupported_filter_fails_the_rule_closed_with_500() -> None:
    rules = (
        "  - filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: a}}]\n"
        "    backendRefs: [{name: svc, port: 8080}]\n"
    )
    table, found = compiled(route("r", rules))
    assert [d.code for d in found if d.code == "IC264"] == ["IC264"]
    chain = route_chain(table.routes[0])
    assert any(isinstance(s, BackendErrorSpec) and s.fraction == 1.0 for s in chain)


def test_filters_compile_to_the_shared_middlewares_in_order() -> None:
    rules = """  - matches: [{path: {type: PathPrefix, value: /app}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: A, value: '1'}], add: [{name: B, value: '2'}], remove: [C]}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: D, value: '4'}]}}
    - type: URLRewrite
      urlRewrite: {hostname: internal.test, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: mirror, port: 8080}}}
    backendRefs: [{name: svc, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
"""
    table, found = compiled(route("r", rules))
    assert [d for d in found if d.severity.value == "error"] == []
    by_path = {r.path: route_chain(r) for r in table.routes}
    names = [type(s) for s in by_path["/app"]]
    assert names == [ResponseHeadersSpec, RequestHeadersSpec, PathRewriteSpec, MirrorSpec]
    headers = next(s for s in by_path["/app"] if isinstance(s, RequestHeadersSpec))
    assert headers.describe()["headers"] == ["A: 1", "B: 2 (added)", "C removed", "Host: internal.test"]
    rewrite = next(s for s in by_path["/app"] if isinstance(s, PathRewriteSpec))
    assert rewrite.apply("/app/x") == "/x" and rewrite.apply("/app") == "/"
    (redirect,) = by_path["/old"]
    assert isinstance(redirect, GatewayRedirectSpec)
    assert redirect.location("http", "h.test", 8080, "/old/a", "q=1") == "https://h.test/old/a?q=1"


def test_a_mirror_to_a_missing_service_is_reported() -> None:
    rules = """  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: nowhere, port: 8080}}}]
    backendRefs: [{name: svc, port: 8080}]
"""
    table, _ = compiled(route("r", rules))
    status = table.gateway_status.http_routes
    (parent,) = next(iter(status.values())).parents
    refs = next(c for c in parent.conditions if c.type == "ResolvedRefs")
    assert (refs.status.value, refs.reason) == ("False", "BackendNotFound")


def test_unchanged_routes_are_the_same_objects_after_a_recompile() -> None:
    text = "---\n".join(
        [CLASS, GATEWAY, service("svc"), route("r", "  - backendRefs: [{name: svc, port: 8080}]\n")]
    )
    cache = CompileCache()
    first, _ = compile(snapshot(text), OPTIONS, cache)
    second, _ = compile(snapshot(text), OPTIONS, cache)
    assert first.routes[0] is second.routes[0]


def test_certificate_secrets_names_every_listener_secret() -> None:
    from ingressctl.gateway.refs import certificate_secrets

    listeners = (
        "  - {name: a, port: 8443, protocol: HTTPS, hostname: a.test,"
        " tls: {certificateRefs: [{name: own}]}}\n"
        "  - {name: b, port: 8443, protocol: HTTPS, hostname: b.test,"
        " tls: {certificateRefs: [{name: shared, namespace: certs}]}}\n"
    )
    plain = "  listeners: [{name: http, port: 8080, protocol: HTTP}]\n"
    gw = GATEWAY.replace(plain, "  listeners:\n" + listeners)
    assert certificate_secrets(snapshot(gw).gateways) == {("default", "own"), ("certs", "shared")}
