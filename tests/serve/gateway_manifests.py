# ruff: noqa: E501 - YAML documents, one flow mapping per line as in the conformance suite
"""The Gateway API manifests of the end-to-end tests, modelled on kubernetes-sigs/gateway-api
`conformance/tests/*.yaml` (same names, rules and backends). Each scenario has hostnames of its own,
so that all of them can be served by one `ingressctl serve` at once (the conformance suite runs them
one by one on hostname-less routes)."""

from __future__ import annotations

from tests.serve.gateway_support import INFRA, WEB, service

BACKENDS = ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3")
GATEWAY_CLASS = """apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: ingressctl}
spec: {controllerName: ingressctl.io/gateway-controller}
---
"""


def gateways(port: int) -> str:
    return GATEWAY_CLASS + f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: same-namespace, namespace: {INFRA}}}
spec:
  gatewayClassName: ingressctl
  listeners:
  - name: http
    port: {port}
    protocol: HTTP
    allowedRoutes: {{namespaces: {{from: Same}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: all-namespaces, namespace: {INFRA}}}
spec:
  gatewayClassName: ingressctl
  listeners:
  - name: http
    port: {port}
    protocol: HTTP
    allowedRoutes: {{namespaces: {{from: All}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: httproute-hostname-intersection, namespace: {INFRA}}}
spec:
  gatewayClassName: ingressctl
  listeners:
  - {{name: listener-1, port: {port}, protocol: HTTP, hostname: very.specific.com, allowedRoutes: {{namespaces: {{from: Same}}}}}}
  - {{name: listener-2, port: {port}, protocol: HTTP, hostname: "*.wildcard.io", allowedRoutes: {{namespaces: {{from: Same}}}}}}
  - {{name: listener-3, port: {port}, protocol: HTTP, hostname: "*.anotherwildcard.io", allowedRoutes: {{namespaces: {{from: Same}}}}}}
"""


def one_listener_gateway(port: int, namespace: str = "infra") -> str:
    """Our GatewayClass and Gateway `namespace`/gw with one HTTP listener `web` on `port` (routes of
    its own namespace), for tests of one filter at a time."""
    return GATEWAY_CLASS + f"""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: {namespace}}}
spec:
  gatewayClassName: ingressctl
  listeners: [{{name: web, port: {port}, protocol: HTTP}}]
"""


def route(
    name: str, hostnames: list[str], rules: str, namespace: str = INFRA, parent: str = "same-namespace"
) -> str:
    names = ", ".join(f'"{h}"' for h in hostnames)
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  parentRefs: [{{name: {parent}, namespace: {INFRA}}}]
  hostnames: [{names}]
  rules:
{rules}"""


def backend(name: str, weight: int | None = None, namespace: str | None = None) -> str:
    extra = f", weight: {weight}" if weight is not None else ""
    extra += f", namespace: {namespace}" if namespace else ""
    return f"{{name: {name}, port: 8080{extra}}}"


ROUTES = [
    # httproute-simple-same-namespace
    route(
        "gateway-conformance-infra-test",
        ["simple.example"],
        f"  - backendRefs: [{backend('infra-backend-v1')}]\n",
    ),
    # httproute-matching
    route(
        "matching",
        ["matching.example"],
        f"""  - matches: [{{path: {{type: PathPrefix, value: /}}}}, {{headers: [{{name: version, value: one}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: PathPrefix, value: /v2}}}}, {{headers: [{{name: version, value: two}}]}}]
    backendRefs: [{backend("infra-backend-v2")}]
""",
    ),
    # httproute-matching-across-routes
    route(
        "matching-part1",
        ["across.example", "across.example.net"],
        f"""  - matches: [{{path: {{type: PathPrefix, value: /}}}}, {{headers: [{{name: version, value: one}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
""",
    ),
    route(
        "matching-part2",
        ["across.example"],
        f"""  - matches: [{{path: {{type: PathPrefix, value: /v2}}}}, {{headers: [{{name: version, value: two}}]}}]
    backendRefs: [{backend("infra-backend-v2")}]
""",
    ),
    # httproute-header-matching
    route(
        "header-matching",
        ["headers.example"],
        f"""  - matches: [{{headers: [{{name: version, value: one}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{headers: [{{name: version, value: two}}]}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{headers: [{{name: version, value: two}}, {{name: color, value: orange}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{headers: [{{name: color, value: blue}}]}}, {{headers: [{{name: color, value: green}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{headers: [{{name: color, value: red}}]}}, {{headers: [{{name: color, value: yellow}}]}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{headers: [{{name: build, type: RegularExpression, value: "v[0-9]+\\\\.[0-9]+"}}]}}]
    backendRefs: [{backend("infra-backend-v3")}]
""",
    ),
    # httproute-query-param-matching
    route(
        "query-param-matching",
        ["query.example"],
        f"""  - matches: [{{queryParams: [{{name: animal, value: whale}}]}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{queryParams: [{{name: animal, value: dolphin}}]}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{queryParams: [{{name: animal, value: dolphin}}, {{name: color, value: blue}}]}}]
    backendRefs: [{backend("infra-backend-v3")}]
""",
    ),
    # httproute-method-matching
    route(
        "method-matching",
        ["method.example"],
        f"""  - matches: [{{method: POST}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{method: GET}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{path: {{type: PathPrefix, value: /path1}}, method: GET}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{headers: [{{name: version, value: one}}], method: PUT}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{headers: [{{name: version, value: two}}], method: POST}}]
    backendRefs: [{backend("infra-backend-v3")}]
""",
    ),
    # httproute-path-match-order
    route(
        "path-matching-order",
        ["order.example"],
        f"""  - matches: [{{path: {{type: Exact, value: /match}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: Exact, value: /match/exact}}}}]
    backendRefs: [{backend("infra-backend-v2")}]
  - matches: [{{path: {{type: Exact, value: /match/exact/one}}}}]
    backendRefs: [{backend("infra-backend-v3")}]
  - matches: [{{path: {{type: PathPrefix, value: /match}}}}]
    backendRefs: [{backend("infra-backend-v3")}]
  - matches: [{{path: {{type: PathPrefix, value: /match/prefix}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: PathPrefix, value: /match/prefix/one}}}}]
    backendRefs: [{backend("infra-backend-v2")}]
""",
    ),
    # httproute-weight
    route(
        "weighted-backends",
        ["weight.example"],
        f"""  - backendRefs: [{backend("infra-backend-v1", 70)}, {backend("infra-backend-v2", 30)}, {backend("infra-backend-v3", 0)}]
""",
    ),
    # httproute-request-header-modifier
    route(
        "request-header-modifier",
        ["reqhdr.example"],
        f"""  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{{name: X-Header-Set, value: set-overwrites-values}}]
        add: [{{name: X-Header-Add, value: add-appends-values}}]
        remove: [X-Header-Remove]
    backendRefs: [{backend("infra-backend-v1")}]
""",
    ),
    # httproute-response-header-modifier
    route(
        "response-header-modifier",
        ["resphdr.example"],
        f"""  - filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{{name: X-Header-Set, value: header-set}}]
        add: [{{name: X-Header-Add, value: header-add}}]
        remove: [X-Header-Remove]
    backendRefs: [{backend("infra-backend-v1")}]
""",
    ),
    # httproute-redirect-host-and-status, -path, -port, -scheme
    route(
        "redirect",
        ["redirect.example"],
        """  - matches: [{path: {type: PathPrefix, value: /hostname-redirect}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org}}]
  - matches: [{path: {type: PathPrefix, value: /status-code-301}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /host-and-status}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /original-prefix}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}}]
  - matches: [{path: {type: PathPrefix, value: /full}}]
    filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}}]
  - matches: [{path: {type: PathPrefix, value: /port}}]
    filters: [{type: RequestRedirect, requestRedirect: {port: 8083}}]
  - matches: [{path: {type: PathPrefix, value: /scheme}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]
  - matches: [{path: {type: PathPrefix, value: /scheme-and-port}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, port: 8443}}]
""",
    ),
    # httproute-rewrite-path, httproute-rewrite-host
    route(
        "rewrite-path",
        ["rewrite.example"],
        f"""  - matches: [{{path: {{type: PathPrefix, value: /prefix/one}}}}]
    filters: [{{type: URLRewrite, urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /one}}}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: PathPrefix, value: /strip-prefix}}}}]
    filters: [{{type: URLRewrite, urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /}}}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: PathPrefix, value: /full/one}}}}]
    filters: [{{type: URLRewrite, urlRewrite: {{path: {{type: ReplaceFullPath, replaceFullPath: /one}}}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
  - matches: [{{path: {{type: PathPrefix, value: /host}}}}]
    filters: [{{type: URLRewrite, urlRewrite: {{hostname: one.example.org}}}}]
    backendRefs: [{backend("infra-backend-v2")}]
""",
    ),
    # httproute-hostname-intersection
    route(
        "specific-host-matches-listener-specific-host",
        ["non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"],
        f"  - matches: [{{path: {{type: PathPrefix, value: /s1}}}}]\n    backendRefs: [{backend('infra-backend-v1')}]\n",
        parent="httproute-hostname-intersection",
    ),
    route(
        "specific-host-matches-listener-wildcard-host",
        ["non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"],
        f"  - matches: [{{path: {{type: PathPrefix, value: /s2}}}}]\n    backendRefs: [{backend('infra-backend-v2')}]\n",
        parent="httproute-hostname-intersection",
    ),
    route(
        "wildcard-host-matches-listener-specific-host",
        ["non.matching.com", "*.specific.com"],
        f"  - matches: [{{path: {{type: PathPrefix, value: /s3}}}}]\n    backendRefs: [{backend('infra-backend-v3')}]\n",
        parent="httproute-hostname-intersection",
    ),
    route(
        "wildcard-host-matches-listener-wildcard-host",
        ["*.anotherwildcard.io"],
        f"  - matches: [{{path: {{type: PathPrefix, value: /s4}}}}]\n    backendRefs: [{backend('infra-backend-v1')}]\n",
        parent="httproute-hostname-intersection",
    ),
    # httproute-reference-grant, httproute-invalid-reference-grant, httproute-cross-namespace
    route(
        "reference-grant",
        ["grant.example"],
        f"  - backendRefs: [{backend('web-backend', namespace=WEB)}]\n",
    ),
    route(
        "invalid-reference-grant",
        ["nogrant.example"],
        f"  - backendRefs: [{backend('web-backend-other', namespace=WEB)}]\n",
    ),
    route(
        "backends-in-own-namespace",
        ["cross.example"],
        f"  - backendRefs: [{backend('web-backend')}]\n",
        namespace=WEB,
        parent="all-namespaces",
    ),
    # httproute-invalid-backendref-nonexistent, -unknown-kind, httproute-all-backends-weight-zero
    route(
        "invalid-backend-ref",
        ["invalid.example"],
        """  - matches: [{path: {type: PathPrefix, value: /nonexistent}}]
    backendRefs: [{name: nonexistent, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /unknown-kind}}]
    backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /weight-zero}}]
    backendRefs: [{name: infra-backend-v1, port: 8080, weight: 0}]
""",
    ),
    # httproute-disallowed-kind / NotAllowedByListeners: a route of another namespace on a Same listener
    route(
        "not-allowed",
        ["notallowed.example"],
        f"  - backendRefs: [{backend('web-backend')}]\n",
        namespace=WEB,
        parent="same-namespace",
    ),
    # httproute-request-mirror
    route(
        "request-mirror",
        ["mirror.example"],
        f"""  - filters: [{{type: RequestMirror, requestMirror: {{backendRef: {backend("infra-backend-v2")}}}}}]
    backendRefs: [{backend("infra-backend-v1")}]
""",
    ),
]

GRANT = f"""apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: reference-grant, namespace: {WEB}}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: {INFRA}}}]
  to: [{{group: "", kind: Service, name: web-backend}}]
"""


def all_manifests(port: int, backend_ports: dict[str, int]) -> str:
    services = [service(name, INFRA, backend_ports[name]) for name in BACKENDS]
    services += [service("web-backend", WEB, backend_ports["web-backend"])]
    services += [service("web-backend-other", WEB, backend_ports["web-backend"])]
    return "---\n".join([gateways(port), *ROUTES, GRANT, *services])
