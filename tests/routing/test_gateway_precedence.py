"""HTTPRoute precedence and matching (ingressctl.gateway.precedence, index, hostnames), through the
compiled RoutingTable as the proxy asks it (match_request), and `explain` agreeing with it."""

from __future__ import annotations

import pytest

from ingressctl.gateway.hostnames import intersect, wildcard_covers
from ingressctl.model import Snapshot
from ingressctl.routing import RoutingTable, compile
from ingressctl.routing.options import CompileOptions
from tests.routing.builders import ingress, path, rule, web_world
from tests.routing.gateway_builders import CLASS, GROUP, service, snapshot

GATEWAY = f"""apiVersion: {GROUP}
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  gatewayClassName: ingressctl
  listeners: [{{name: http, port: 8080, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}]
"""


def routes(*specs: tuple[str, str, str]) -> str:
    """(name, creationTimestamp, spec) → HTTPRoutes on the Gateway."""
    return "---\n".join(
        f"""apiVersion: {GROUP}
kind: HTTPRoute
metadata: {{name: {name}, namespace: default, creationTimestamp: "{created}"}}
spec:
  parentRefs: [{{name: gw}}]
{spec}"""
        for name, created, spec in specs
    )


def table(text: str, extra: Snapshot | None = None) -> RoutingTable:
    snap = snapshot("---\n".join([CLASS, GATEWAY, service("a"), service("b"), service("c"), text]))
    if extra is not None:
        snap = Snapshot(
            ingresses=extra.ingresses,
            services=snap.services + extra.services,
            endpoint_slices=snap.endpoint_slices + extra.endpoint_slices,
            gateway_classes=snap.gateway_classes,
            gateways=snap.gateways,
            http_routes=snap.http_routes,
        )
    result, _ = compile(snap, CompileOptions(gateway=True, entrypoint_ports=(("web", 8080, False),)))
    return result


def served_by(
    t: RoutingTable, host: str, path: str, method: str = "GET", query: str = "", **headers: str
) -> str:
    match = t.match_request(host, path, method, headers, query)
    if match is None:
        return "404"
    explained = t.explain(host, path, method, headers, query)
    assert explained is not None and explained.route.id == match.route.id, (explained, match)
    return match.route.backend.service


def backend_rule(service: str, match: str = "") -> str:
    return f"  - backendRefs: [{{name: {service}, port: 8080}}]\n" + (
        f"    matches: [{match}]\n" if match else ""
    )


def test_exact_beats_a_longer_matching_prefix_and_longest_prefix_wins() -> None:
    t = table(
        routes(
            (
                "r",
                "2024-01-01T00:00:00Z",
                "  hostnames: [h.test]\n  rules:\n"
                + backend_rule("a", "{path: {type: PathPrefix, value: /foo}}")
                + backend_rule("b", "{path: {type: Exact, value: /foo/bar}}")
                + backend_rule(
                    "c", "{path: {type: PathPrefix, value: /foo/bar}, headers: [{name: x, value: '1'}]}"
                ),
            )
        )
    )
    assert served_by(t, "h.test", "/foo/bar") == "b"
    assert served_by(t, "h.test", "/foo/bar", x="1") == "b"  # Exact path before any header count
    assert served_by(t, "h.test", "/foo/bar/baz", x="1") == "c"  # longer prefix (with its header)
    assert served_by(t, "h.test", "/foo/bar/baz") == "a"
    assert served_by(t, "h.test", "/foobar") == "404"


def test_method_then_headers_then_query_then_age_then_name() -> None:
    t = table(
        routes(
            ("young", "2024-06-01T00:00:00Z", "  hostnames: [h.test]\n  rules:\n" + backend_rule("a")),
            (
                "old",
                "2024-01-01T00:00:00Z",
                "  hostnames: [h.test]\n  rules:\n"
                + backend_rule("b")
                + backend_rule("c", "{method: POST}")
                + backend_rule("a", "{headers: [{name: x, value: '1'}], queryParams: [{name: q, value: v}]}")
                + backend_rule("b", "{headers: [{name: x, value: '1'}, {name: y, value: '2'}]}"),
            ),
        )
    )
    assert served_by(t, "h.test", "/") == "b"  # same match: the older route
    assert served_by(t, "h.test", "/", "POST", x="1", y="2") == "c"  # method before headers
    assert served_by(t, "h.test", "/", x="1", y="2") == "b"  # two headers before one header + query
    assert served_by(t, "h.test", "/", query="q=v", x="1") == "a"
    assert served_by(t, "h.test", "/", query="q=v&q=w", x="1") == "a"


def test_hostname_precedence_exact_then_longest_wildcard_then_none() -> None:
    t = table(
        routes(
            ("any", "2024-01-01T00:00:00Z", "  rules:\n" + backend_rule("a")),
            ("wide", "2024-01-01T00:00:00Z", "  hostnames: ['*.test']\n  rules:\n" + backend_rule("b")),
            ("narrow", "2024-01-01T00:00:00Z", "  hostnames: ['*.b.test']\n  rules:\n" + backend_rule("c")),
        )
    )
    assert served_by(t, "x.a.test", "/") == "b"  # any number of labels under *.test
    assert served_by(t, "x.b.test", "/") == "c"
    assert served_by(t, "b.test", "/") == "b"
    assert served_by(t, "test", "/") == "a"


def test_ingress_and_httproute_share_the_table() -> None:
    extra = web_world(ingress("ing", rule("h.test", path("/api"))))
    t = table(
        routes(
            (
                "r",
                "2024-01-01T00:00:00Z",
                "  hostnames: [h.test]\n  rules:\n"
                + backend_rule("a", "{path: {type: PathPrefix, value: /api/v2}, method: GET}")
                + backend_rule("b"),
            )
        ),
        extra,
    )
    assert served_by(t, "h.test", "/api/v2/x") == "a"  # the longer HTTPRoute prefix
    assert served_by(t, "h.test", "/api/v2/x", "POST") == "web"  # method does not match: the Ingress
    assert served_by(t, "h.test", "/other") == "b"


def test_regular_expression_path() -> None:
    t = table(
        routes(
            (
                "r",
                "2024-01-01T00:00:00Z",
                "  hostnames: [h.test]\n  rules:\n"
                + backend_rule("a", "{path: {type: RegularExpression, value: '/v[0-9]+/.*'}}"),
            )
        )
    )
    assert served_by(t, "h.test", "/v2/items") == "a"
    assert served_by(t, "h.test", "/x/v2/items") == "404"  # the whole path must match


def test_an_ingress_only_table_has_no_gateway_index() -> None:
    t, _ = compile(web_world(ingress("ing", rule("h.test", path("/")))), CompileOptions(gateway=True))
    assert t._gateway is None


@pytest.mark.parametrize(
    ("pattern", "host", "covered"),
    [
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "*.b.example.com", True),
        ("*.b.example.com", "*.example.com", False),
        ("a.example.com", "a.example.com", True),
    ],
)
def test_wildcard_covers(pattern: str, host: str, covered: bool) -> None:
    assert wildcard_covers(pattern, host) is covered


def test_intersect() -> None:
    assert intersect(None, ()) == (None,)
    assert intersect("*.wildcard.io", ()) == ("*.wildcard.io",)
    assert intersect("*.wildcard.io", ("wildcard.io", "foo.wildcard.io", "a.b.wildcard.io")) == (
        "foo.wildcard.io",
        "a.b.wildcard.io",
    )
    assert intersect("very.specific.com", ("*.specific.com", "non.matching.com")) == ("very.specific.com",)
    assert intersect("*.example.com", ("*.com",)) == ("*.example.com",)
    assert intersect("a.test", ("b.test",)) == ()
