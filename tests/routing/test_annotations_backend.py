"""The backend-side annotations, every spelling, compiled from YAML as `validate` reads it: the policy
each route gets, the chain `routes --explain` shows, and bad values as errors at their line with the
route failing closed."""

from __future__ import annotations

import pytest

from ingressctl.manifests.loader import load_text
from ingressctl.model import Diagnostic, Route, Severity
from ingressctl.model.backend_policy import BackendPolicy, BalanceMethod, BreakerComparison, BreakerJunction
from ingressctl.routing import CompileOptions, compile
from ingressctl.routing.breaker_expression import ExpressionError, parse_breaker_expression
from ingressctl.routing.chain import chain_descriptions, chain_labels

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    kubernetes.io/ingress.class: traefik
{ingress}spec:
  rules:
  - host: shop.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  annotations:
    owner: team
{service}spec:
  ports:
  - name: http
    port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: default
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports:
- name: http
  port: 8080
endpoints:
- addresses: ["10.0.0.1"]
- addresses: ["10.0.0.2"]
"""


def lines(annotations: dict[str, str]) -> str:
    return "".join(f"    {key}: {value}\n" for key, value in annotations.items())


def compiled(
    ingress: dict[str, str] | None = None, service: dict[str, str] | None = None
) -> tuple[Route, list[Diagnostic], str]:
    text = INGRESS.format(ingress=lines(ingress or {}), service=lines(service or {}))
    loaded = load_text(text, "app.yaml")
    table, diagnostics = compile(loaded.snapshot, CompileOptions())
    [route] = table.routes
    return route, diagnostics, text


def policy_of(route: Route) -> BackendPolicy:
    policy = route.middlewares.backend_policy
    assert policy is not None
    return policy


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_no_backend_annotation_means_no_policy_and_an_unchanged_chain() -> None:
    route, diagnostics, _ = compiled({"traefik.ingress.kubernetes.io/router.priority": "3"})
    assert route.middlewares.backend_policy is None
    assert chain_labels(route) == []
    assert not [d for d in diagnostics if d.code == "IC213"]


@pytest.mark.parametrize(
    ("where", "annotations", "name"),
    [
        ("service", {"traefik.ingress.kubernetes.io/affinity": '"true"'}, "_"),
        (
            "service",
            {
                "traefik.ingress.kubernetes.io/affinity": '"true"',
                "traefik.ingress.kubernetes.io/session-cookie-name": "pinned",
            },
            "pinned",
        ),
        (
            "service",
            {
                "traefik.backend.loadbalancer.stickiness": '"true"',
                "traefik.backend.loadbalancer.stickiness.cookieName": "legacy",
            },
            "legacy",
        ),
        (
            "service",
            {
                "traefik.ingress.kubernetes.io/service.sticky.cookie": '"true"',
                "traefik.ingress.kubernetes.io/service.sticky.cookie.name": "v2",
            },
            "v2",
        ),
        ("ingress", {"traefik.ingress.kubernetes.io/affinity": '"true"'}, "_"),  # read there too
        ("ingress", {"nginx.ingress.kubernetes.io/affinity": "cookie"}, "INGRESSCOOKIE"),
    ],
)
def test_every_spelling_of_sticky_sessions_gives_one_cookie(
    where: str, annotations: dict[str, str], name: str
) -> None:
    kwargs = {where: annotations}
    route, diagnostics, _ = compiled(**kwargs)
    sticky = policy_of(route).sticky
    assert sticky is not None
    if name == "_":  # Traefik's default: _ and a short hash of the Service, stable across compiles
        assert sticky.name.startswith("_") and len(sticky.name) == 7
        assert sticky.name == policy_of(compiled(**kwargs)[0]).sticky.name  # type: ignore[union-attr]
    else:
        assert sticky.name == name
    assert not [d for d in diagnostics if d.code == "IC213"]
    assert chain_labels(route) == [f"upstream-policy(sticky:{sticky.name},round-robin)"]


def test_cookie_flags_from_traefik_v2_and_ingress_nginx() -> None:
    route, _, _ = compiled(
        service={
            "traefik.ingress.kubernetes.io/service.sticky.cookie": '"true"',
            "traefik.ingress.kubernetes.io/service.sticky.cookie.secure": '"true"',
            "traefik.ingress.kubernetes.io/service.sticky.cookie.httponly": '"true"',
            "traefik.ingress.kubernetes.io/service.sticky.cookie.samesite": "lax",
        }
    )
    sticky = policy_of(route).sticky
    assert sticky is not None
    assert (sticky.secure, sticky.http_only, sticky.same_site) == (True, True, "Lax")
    route, _, _ = compiled(
        {
            "nginx.ingress.kubernetes.io/affinity": "cookie",
            "nginx.ingress.kubernetes.io/affinity-mode": "persistent",
            "nginx.ingress.kubernetes.io/session-cookie-name": "route",
            "nginx.ingress.kubernetes.io/session-cookie-path": "/shop",
            "nginx.ingress.kubernetes.io/session-cookie-max-age": '"172800"',
            "nginx.ingress.kubernetes.io/session-cookie-expires": '"3600"',
            "nginx.ingress.kubernetes.io/session-cookie-secure": '"true"',
            "nginx.ingress.kubernetes.io/session-cookie-samesite": "Strict",
        }
    )
    sticky = policy_of(route).sticky
    assert sticky is not None
    assert (sticky.name, sticky.path, sticky.max_age, sticky.expires) == ("route", "/shop", 172800, 3600)
    assert (sticky.secure, sticky.same_site) == (True, "Strict")
    [upstream] = chain_descriptions(route)
    assert "cookie route (path /shop, Max-Age=172800, Secure, SameSite=Strict)" in str(upstream["effect"])


def test_methods_hashing_limits_timeouts_and_retries() -> None:
    route, diagnostics, _ = compiled(
        {
            "nginx.ingress.kubernetes.io/upstream-hash-by": "$request_uri",
            "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
            "nginx.ingress.kubernetes.io/proxy-connect-timeout": '"3"',
            "nginx.ingress.kubernetes.io/proxy-read-timeout": '"30"',
            "nginx.ingress.kubernetes.io/proxy-send-timeout": '"20"',
            "nginx.ingress.kubernetes.io/proxy-next-upstream": "error timeout http_503",
            "nginx.ingress.kubernetes.io/proxy-next-upstream-tries": '"3"',
            "nginx.ingress.kubernetes.io/proxy-buffering": '"off"',
            "nginx.ingress.kubernetes.io/proxy-request-buffering": '"off"',
        },
        {"traefik.ingress.kubernetes.io/load-balancer-method": "drr"},
    )
    policy = policy_of(route)
    assert policy.method is BalanceMethod.LEAST_LATENCY
    assert policy.hash_key is not None and policy.hash_key.parts == (("var", "request_uri"),)
    assert policy.max_request_body == 8 * 1024 * 1024
    assert (policy.connect_timeout, policy.read_timeout, policy.send_timeout) == (3.0, 30.0, 20.0)
    assert (policy.tries, policy.retry_on) == (3, ("error", "timeout", "http_503"))
    assert (policy.request_buffering, policy.response_buffering) == (False, False)
    assert not [d for d in diagnostics if d.code == "IC213"]
    assert [d["name"] for d in chain_descriptions(route)] == ["body-limit", "upstream-policy"]
    route, _, _ = compiled({"nginx.ingress.kubernetes.io/load-balance": "ewma"})
    assert policy_of(route).method is BalanceMethod.LEAST_LATENCY


def test_traefik_buffering_yaml_and_the_stricter_body_limit() -> None:
    buffering = (
        "|\n      maxRequestBodyBytes: 2048\n      memRequestBodyBytes: 1024\n"
        "      maxResponseBodyBytes: 4096\n      retryExpression: IsNetworkError() && Attempts() <= 2"
    )
    route, diagnostics, _ = compiled(service={"traefik.ingress.kubernetes.io/buffering": buffering})
    policy = policy_of(route)
    assert (policy.max_request_body, policy.max_response_body) == (2048, 4096)
    assert (policy.tries, policy.retry_on) == (3, ("error",))  # Attempts() <= 2: a third attempt
    assert not [d for d in diagnostics if d.code in ("IC213", "IC219")]
    route, _, _ = compiled(
        {"nginx.ingress.kubernetes.io/proxy-body-size": "1k"},
        {"traefik.ingress.kubernetes.io/buffering": buffering},
    )
    assert policy_of(route).max_request_body == 1024


def test_circuit_breaker_from_the_service_and_its_legacy_spelling() -> None:
    expression = "NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.25"
    for key in (
        "traefik.ingress.kubernetes.io/circuit-breaker-expression",
        "traefik.backend.circuitbreaker.expression",
    ):
        route, diagnostics, _ = compiled(service={key: f'"{expression}"'})
        breaker = policy_of(route).breaker
        assert breaker is not None and breaker.expression == expression
        assert chain_labels(route)[0] == "circuit-breaker"
        assert not [d for d in diagnostics if d.code == "IC213"]


def test_the_service_wins_over_the_ingress_for_traefik_service_annotations() -> None:
    route, _, _ = compiled(
        {"traefik.ingress.kubernetes.io/load-balancer-method": "drr"},
        {"traefik.ingress.kubernetes.io/load-balancer-method": "wrr"},
    )
    assert policy_of(route).method is BalanceMethod.ROUND_ROBIN


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("ingress", "nginx.ingress.kubernetes.io/proxy-body-size", "lots"),
        ("ingress", "nginx.ingress.kubernetes.io/proxy-read-timeout", "soon"),
        ("ingress", "nginx.ingress.kubernetes.io/proxy-next-upstream", "error sometimes"),
        ("ingress", "nginx.ingress.kubernetes.io/affinity", "ip"),
        ("ingress", "nginx.ingress.kubernetes.io/session-cookie-samesite", "Sometimes"),
        ("ingress", "nginx.ingress.kubernetes.io/load-balance", "chash"),
        ("service", "traefik.ingress.kubernetes.io/load-balancer-method", "random"),
        ("service", "traefik.ingress.kubernetes.io/session-cookie-name", '"a;b"'),
        ("service", "traefik.ingress.kubernetes.io/circuit-breaker-expression", '"NetworkErrorRatio() >"'),
        ("service", "traefik.ingress.kubernetes.io/buffering", '"maxRequestBodyBytes: lots"'),
        ("service", "traefik.ingress.kubernetes.io/affinity", "maybe"),
    ],
)
def test_a_bad_value_is_an_error_at_its_line_and_the_route_fails_closed(
    where: str, key: str, value: str
) -> None:
    route, diagnostics, text = compiled(**{where: {key: value}})
    [bad] = [d for d in diagnostics if d.code == "IC213"]
    assert bad.severity is Severity.ERROR
    assert bad.location is not None and bad.location.line == line_of(text, key)
    assert (bad.location.file, bad.location.column) == ("app.yaml", 5)
    assert ("Service default/web" if where == "service" else "Ingress default/shop") in bad.message
    assert "answers 503" in bad.message
    [first, *_] = chain_descriptions(route)
    assert (first["name"], first["status"], first["guards"]) == ("fail-closed", 503, "upstream-policy")


def test_an_unsupported_hash_variable_is_a_warning_and_the_route_is_served() -> None:
    route, diagnostics, text = compiled({"nginx.ingress.kubernetes.io/upstream-hash-by": "$ssl_client_s_dn"})
    [warning] = [d for d in diagnostics if d.code == "IC213"]
    assert warning.severity is Severity.WARNING
    assert warning.location is not None and warning.location.line == line_of(text, "upstream-hash-by")
    assert "without hashing" in warning.message
    assert policy_of(route).hash_key is None and not policy_of(route).invalid


def test_implemented_keys_are_neither_typos_nor_unsupported() -> None:
    from ingressctl.routing import KNOWN_ANNOTATIONS
    from ingressctl.routing.refusals import unsupported_traefik

    for key in (
        "traefik.ingress.kubernetes.io/affinity",
        "traefik.ingress.kubernetes.io/service.sticky.cookie.samesite",
        "traefik.ingress.kubernetes.io/circuit-breaker-expression",
        "traefik.ingress.kubernetes.io/buffering",
        "nginx.ingress.kubernetes.io/proxy-body-size",
    ):
        assert key in KNOWN_ANNOTATIONS
        assert not unsupported_traefik(key)


@pytest.mark.parametrize(
    "text",
    [
        "NetworkErrorRatio() > 0.5",
        "ResponseCodeRatio(500, 600, 0, 600) > 0.5",
        "LatencyAtQuantileMS(50.0) > 50",
        "NetworkErrorRatio() > 0.5 && (LatencyAtQuantileMS(99) >= 200 || "
        "ResponseCodeRatio(500,600,0,600) > 0.1)",
    ],
)
def test_breaker_expressions_parse(text: str) -> None:
    condition = parse_breaker_expression(text)
    assert isinstance(condition, BreakerComparison | BreakerJunction)


def test_and_binds_tighter_than_or() -> None:
    condition = parse_breaker_expression(
        "NetworkErrorRatio() > 0.1 || NetworkErrorRatio() > 0.2 && NetworkErrorRatio() > 0.3"
    )
    assert isinstance(condition, BreakerJunction) and condition.operator == "||"
    assert isinstance(condition.right, BreakerJunction) and condition.right.operator == "&&"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("__import__('os').system('id')", "unexpected"),
        ("NetworkErrorRatio() > 0.5 ||", "ends"),
        ("Foo() > 1", "unknown function"),
        ("NetworkErrorRatio(1) > 0.5", "takes 0"),
        ("ResponseCodeRatio(600, 500, 0, 600) > 0.5", "status ranges"),
        ("LatencyAtQuantileMS(150) > 5", "quantile"),
        ("NetworkErrorRatio() = 0.5", "unexpected"),
        ("(" * 40 + "NetworkErrorRatio() > 0.5" + ")" * 40, "nested"),
        ("NetworkErrorRatio() > 0.5 NetworkErrorRatio() > 0.5", "after a complete condition"),
    ],
)
def test_bad_breaker_expressions_say_why(text: str, why: str) -> None:
    with pytest.raises(ExpressionError, match=why):
        parse_breaker_expression(text)


PAGES = """---
apiVersion: v1
kind: Service
metadata:
  name: pages
  namespace: default
spec:
  ports:
  - name: http
    port: 8000
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: pages-1
  namespace: default
  labels: {kubernetes.io/service-name: pages}
addressType: IPv4
ports:
- name: http
  port: 9000
endpoints:
- addresses: ["10.0.9.9"]
"""


def compiled_with_pages(
    ingress: dict[str, str], endpoints: bool = True
) -> tuple[Route, list[Diagnostic], str]:
    text = INGRESS.format(ingress=lines(ingress), service="") + PAGES
    if not endpoints:
        text = text.replace(
            'endpoints:\n- addresses: ["10.0.0.1"]\n- addresses: ["10.0.0.2"]\n', "endpoints: []\n"
        )
    loaded = load_text(text, "app.yaml")
    table, diagnostics = compile(loaded.snapshot, CompileOptions())
    [route] = table.routes
    return route, diagnostics, text


def test_traefik_error_pages_resolve_to_the_page_service() -> None:
    value = (
        '|\n      foo:\n        status: ["404", "500-599"]\n        backend: pages\n'
        "        query: /{status}.html"
    )
    route, diagnostics, _ = compiled_with_pages({"traefik.ingress.kubernetes.io/error-pages": value})
    [page] = policy_of(route).error_pages
    assert (page.statuses, page.service, page.query, page.nginx_headers) == (
        ((404, 404), (500, 599)),
        "pages",
        "/{status}.html",
        False,
    )
    assert page.backend is not None and [u.authority for u in page.backend.upstreams] == ["10.0.9.9:9000"]
    assert not [d for d in diagnostics if d.code == "IC213"]
    [upstream] = chain_descriptions(route)
    assert "answers 404, 500-599: page /{status}.html of Service pages, status kept" in str(
        upstream["effect"]
    )


def test_nginx_custom_http_errors_and_default_backend() -> None:
    route, diagnostics, _ = compiled_with_pages(
        {
            "nginx.ingress.kubernetes.io/custom-http-errors": '"404,503"',
            "nginx.ingress.kubernetes.io/default-backend": "pages",
        }
    )
    policy = policy_of(route)
    [page] = policy.error_pages
    assert (page.statuses, page.query, page.nginx_headers) == (((404, 404), (503, 503)), "/", True)
    assert policy.fallback_backend is not None
    assert route.backend.upstreams[0].host == "10.0.0.1"  # the route's own endpoints while it has some
    assert not [d for d in diagnostics if d.code == "IC213"]


def test_default_backend_serves_while_the_service_has_no_endpoint() -> None:
    route, _, _ = compiled_with_pages(
        {"nginx.ingress.kubernetes.io/default-backend": "pages"}, endpoints=False
    )
    assert route.backend.problem is None
    assert [u.authority for u in route.backend.upstreams] == ["10.0.9.9:9000"]
    assert "served by Service pages" in str(chain_descriptions(route)[-1]["effect"])


def test_error_page_findings() -> None:
    route, diagnostics, text = compiled_with_pages(
        {"nginx.ingress.kubernetes.io/custom-http-errors": '"404"'}
    )
    [warning] = [d for d in diagnostics if d.code == "IC213"]
    assert warning.severity is Severity.WARNING and "without default-backend" in warning.message
    assert warning.location is not None and warning.location.line == line_of(text, "custom-http-errors")
    route, diagnostics, text = compiled_with_pages(
        {"traefik.ingress.kubernetes.io/error-pages": '"foo: {status: [\\"5xx\\"], backend: pages}"'}
    )
    [error] = [d for d in diagnostics if d.code == "IC213"]
    assert error.severity is Severity.ERROR and "'5xx' is not a status" in error.message
    assert error.location is not None and error.location.line == line_of(text, "error-pages")
    route, diagnostics, _ = compiled_with_pages(
        {
            "nginx.ingress.kubernetes.io/custom-http-errors": '"404"',
            "nginx.ingress.kubernetes.io/default-backend": "missing",
        }
    )
    [warning] = [d for d in diagnostics if d.code == "IC213"]
    assert "Service missing cannot serve" in warning.message and warning.severity is Severity.WARNING
    assert policy_of(route).error_pages == () and not policy_of(route).invalid


@pytest.mark.parametrize(
    ("annotations", "priority", "entrypoints", "tls_only"),
    [
        ({"traefik.ingress.kubernetes.io/priority": '"7"'}, 7, (), False),
        ({"traefik.frontend.priority": '"5"'}, 5, (), False),
        ({"traefik.ingress.kubernetes.io/router.priority": '"9"'}, 9, (), False),
        (
            {"traefik.ingress.kubernetes.io/frontend-entry-points": "web,websecure"},
            0,
            ("web", "websecure"),
            False,
        ),
        ({"traefik.ingress.kubernetes.io/router.entrypoints": "websecure"}, 0, ("websecure",), False),
        ({"traefik.ingress.kubernetes.io/router.tls": '"true"'}, 0, ("websecure",), True),
    ],
)
def test_traefik_router_annotations_of_1_7_and_v2(
    annotations: dict[str, str], priority: int, entrypoints: tuple[str, ...], tls_only: bool
) -> None:
    text = INGRESS.format(ingress=lines(annotations), service="")
    table, diagnostics = compile(
        load_text(text, "app.yaml").snapshot, CompileOptions(tls_entrypoints=("websecure",))
    )
    [route] = table.routes
    assert (route.priority, route.entrypoints, route.tls_only) == (priority, entrypoints, tls_only)
    assert not [d for d in diagnostics if d.code == "IC213"]


def test_next_upstream_tries_alone_implies_the_ingress_nginx_default_conditions() -> None:
    route, _, _ = compiled({"nginx.ingress.kubernetes.io/proxy-next-upstream-tries": '"4"'})
    assert (policy_of(route).tries, policy_of(route).retry_on) == (4, ("error", "timeout"))
