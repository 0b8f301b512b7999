"""Access and traffic-limit annotations, compiled: typed values, their place in the chain, and
values that cannot be honoured failing closed (an error at the annotation's line, a 503 stage)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from ingressctl.model import BackendProblem, Diagnostic, Ingress, Location, Route, Severity
from ingressctl.model.access import AuthStyle, RateSet, SourceKey, SourceKind
from ingressctl.routing.annotation_values import parse_duration
from ingressctl.routing.chain import (
    FailClosedSpec,
    auth_position,
    chain_descriptions,
    chain_labels,
    route_chain,
)
from tests.routing.builders import PREFIX, build, ingress, path, rule, secret, service, web_world

HTPASSWD = b"alice:{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M=\n"
SHA_WONDERLAND = b"{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M="
NGINX = "nginx.ingress.kubernetes.io/"
T1 = "ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"


def annotated(annotations: Mapping[str, str]) -> Ingress:
    subject = ingress("app", rule("a.test", path("/", PREFIX)), annotations=annotations)
    lines = {key: Location("app.yaml", 10 + i, 5) for i, key in enumerate(annotations)}
    return dataclasses.replace(subject, meta=dataclasses.replace(subject.meta, annotation_locations=lines))


def compile_one(annotations: Mapping[str, str], **options: bool) -> tuple[Route, list[Diagnostic]]:
    secrets = (
        secret("creds", {"auth": HTPASSWD}),
        secret("users", {"alice": SHA_WONDERLAND, "bob": SHA_WONDERLAND}),
    )
    other = ingress("other", rule("b.test", path("/", PREFIX)))
    table, diagnostics = build(web_world(annotated(annotations), other, secrets=secrets), **options)
    by_host = {r.host: r for r in table.routes}
    assert by_host["b.test"].backend.problem is None  # the neighbour is never touched
    return by_host["a.test"], diagnostics


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]


def fails_closed(route: Route, guards: str) -> FailClosedSpec:
    [stage] = [s for s in route_chain(route) if isinstance(s, FailClosedSpec) and s.guards == guards]
    assert stage.status == 503
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    return stage


# ------------------------------------------------------------------ forward auth


def test_traefik_forward_auth() -> None:
    route, diagnostics = compile_one(
        {
            T1 + "auth-type": "forward",
            T1 + "auth-url": "http://auth.auth.svc:8080/verify",
            T1 + "auth-response-headers": "X-Auth-User, X-Auth-Email",
            T1 + "auth-trust-headers": "true",
        }
    )
    assert errors(diagnostics) == []
    auth = route.middlewares.access.forward_auth
    assert auth is not None and auth.style is AuthStyle.TRAEFIK
    assert auth.url == "http://auth.auth.svc:8080/verify"
    assert auth.response_headers == ("X-Auth-User", "X-Auth-Email")
    assert auth.trust_forward_headers is True
    assert route.middlewares.basic_auth is None and route.backend.problem is None
    assert chain_labels(route) == ["forward-auth"]
    [described] = chain_descriptions(route)
    assert described["effect"] == (
        "GET http://auth.auth.svc:8080/verify: 2xx passes; any other answer goes to the client as it is; "
        "no answer is 503"
    )


def test_nginx_forward_auth_with_signin_and_variables() -> None:
    route, diagnostics = compile_one(
        {
            NGINX + "auth-url": "https://$host/oauth2/auth",
            NGINX + "auth-signin": "https://$host/oauth2/start?rd=$escaped_request_uri",
            NGINX + "auth-response-headers": "X-Auth-Request-User",
            NGINX + "auth-method": "post",
        }
    )
    assert errors(diagnostics) == []
    auth = route.middlewares.access.forward_auth
    assert auth is not None and auth.style is AuthStyle.NGINX
    assert (auth.method, auth.signin) == ("POST", "https://$host/oauth2/start?rd=$escaped_request_uri")
    assert "401 redirects to https://$host/oauth2/start" in str(chain_descriptions(route)[0]["effect"])


@pytest.mark.parametrize(
    ("annotations", "key", "text"),
    [
        ({T1 + "auth-type": "forward"}, T1 + "auth-type", "auth-type forward needs"),
        (
            {T1 + "auth-type": "forward", T1 + "auth-url": "auth-svc/verify"},
            T1 + "auth-url",
            "not an http(s) URL",
        ),
        ({T1 + "auth-url": "http://auth.test/"}, T1 + "auth-url", "auth-type is not 'forward'"),
        (
            {
                T1 + "auth-type": "forward",
                T1 + "auth-url": "http://a.test/",
                T1 + "auth-response-headers": "X A",
            },
            T1 + "auth-response-headers",
            "is not a header name",
        ),
        ({NGINX + "auth-url": "http://$upstream_addr/x"}, NGINX + "auth-url", "$upstream_addr"),
        (
            {NGINX + "auth-url": "http://a.test/", NGINX + "auth-method": "GE T"},
            NGINX + "auth-method",
            "method",
        ),
        (
            {NGINX + "auth-url": "http://a.test/", NGINX + "auth-signin": "login"},
            NGINX + "auth-signin",
            "URL",
        ),
    ],
)
def test_bad_forward_auth_fails_closed(annotations: dict[str, str], key: str, text: str) -> None:
    route, diagnostics = compile_one(annotations)
    [error] = errors(diagnostics)
    assert error.code == "IC213"
    assert error.location == Location("app.yaml", 10 + list(annotations).index(key), 5)
    assert key in error.message and text in error.message and "answers 503" in error.message
    assert route.middlewares.access.forward_auth is None
    fails_closed(route, "forward-auth")


def test_auth_header_field_and_remove_header_follow_basic_auth() -> None:
    route, diagnostics = compile_one(
        {
            T1 + "auth-type": "basic",
            T1 + "auth-secret": "creds",
            T1 + "auth-header-field": "X-WebAuth-User",
            T1 + "auth-remove-header": "true",
        }
    )
    assert errors(diagnostics) == []
    assert chain_labels(route) == ["basic-auth", "auth-headers"]
    assert (
        chain_descriptions(route)[1]["effect"]
        == "sets X-WebAuth-User to the authenticated user; removes Authorization"
    )


# ------------------------------------------------------------------ ingress-nginx basic auth


@pytest.mark.parametrize(
    ("annotations", "users"),
    [
        ({NGINX + "auth-type": "basic", NGINX + "auth-secret": "creds"}, ["alice"]),
        ({NGINX + "auth-type": "basic", NGINX + "auth-secret": "default/creds"}, ["alice"]),
        (
            {
                NGINX + "auth-type": "basic",
                NGINX + "auth-secret": "users",
                NGINX + "auth-secret-type": "auth-map",
            },
            ["alice", "bob"],
        ),
    ],
)
def test_nginx_basic_auth(annotations: dict[str, str], users: list[str]) -> None:
    route, diagnostics = compile_one({**annotations, NGINX + "auth-realm": "Staff only"})
    assert errors(diagnostics) == []
    auth = route.middlewares.basic_auth
    assert auth is not None and [u for u, _ in auth.users] == users and auth.realm == "Staff only"
    assert route.backend.problem is None


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        ({NGINX + "auth-type": "digest", NGINX + "auth-secret": "creds"}, "digest is not supported"),
        ({NGINX + "auth-type": "basic", NGINX + "auth-secret": "missing"}, "does not exist"),
        ({NGINX + "auth-type": "basic"}, "needs"),
        (
            {NGINX + "auth-type": "basic", NGINX + "auth-secret": "creds", NGINX + "auth-secret-type": "x"},
            "auth-file",
        ),
        ({NGINX + "auth-type": "basic", NGINX + "auth-secret": "users"}, "no 'auth' key"),
    ],
)
def test_broken_nginx_basic_auth_fails_closed(annotations: dict[str, str], text: str) -> None:
    route, diagnostics = compile_one(annotations, require_services=True)
    [error] = errors(diagnostics)
    assert error.code == "IC212" and text in error.message
    assert route.backend.problem is BackendProblem.AUTH_SECRET_INVALID
    assert "fail-closed(basic-auth)" in chain_labels(route)


# ------------------------------------------------------------------ allow and deny lists


def test_nginx_allow_and_deny_lists() -> None:
    route, diagnostics = compile_one(
        {
            NGINX + "whitelist-source-range": "10.0.0.0/8",
            NGINX + "allowlist-source-range": "192.168.1.7",
            NGINX + "denylist-source-range": "10.1.0.0/16",
        }
    )
    assert errors(diagnostics) == []
    assert route.middlewares.allow_source_ranges == ("10.0.0.0/8", "192.168.1.7/32")
    assert route.middlewares.access.deny_source_ranges == ("10.1.0.0/16",)
    assert chain_labels(route) == ["ip-deny-list", "ip-allow-list"]


def test_whitelist_x_forwarded_for() -> None:
    route, _ = compile_one(
        {T1 + "whitelist-source-range": "10.0.0.0/8", T1 + "whitelist-x-forwarded-for": "true"}
    )
    described = chain_descriptions(route)[0]
    assert described["forwarded_for"] is True
    assert described["effect"] == "403 unless the forwarded client address is in 10.0.0.0/8"


@pytest.mark.parametrize(
    ("key", "value", "guards", "text"),
    [
        (NGINX + "denylist-source-range", "10.0.0.0/8, nope", "ip-deny-list", "'nope'"),
        (T1 + "whitelist-x-forwarded-for", "maybe", "ip-allow-list", "not a boolean"),
    ],
)
def test_bad_lists_fail_closed(key: str, value: str, guards: str, text: str) -> None:
    route, diagnostics = compile_one({key: value})
    [error] = errors(diagnostics)
    assert error.location == Location("app.yaml", 10, 5) and text in error.message
    fails_closed(route, guards)


def test_bad_nginx_allow_list_refuses_everyone() -> None:
    route, diagnostics = compile_one({NGINX + "whitelist-source-range": "10.0.0.0/8, everyone"})
    [error] = errors(diagnostics)
    assert error.location == Location("app.yaml", 10, 5)
    assert route.backend.problem is BackendProblem.ACCESS_RULE_INVALID


# ------------------------------------------------------------------ rate and in-flight limits


TRAEFIK_RATE = """\
extractorfunc: client.ip
rateset:
  bar:
    period: 3s
    average: 6
    burst: 9
  foo:
    period: 1m
    average: 120
    burst: 18
"""


def test_traefik_rate_limit() -> None:
    route, diagnostics = compile_one({TRAEFIK + "rate-limit": TRAEFIK_RATE})
    assert errors(diagnostics) == []
    limit = route.middlewares.access.rate_limit
    assert limit is not None and limit.status == 429
    assert limit.source == SourceKey(SourceKind.CLIENT_IP)
    assert limit.rates == (RateSet("bar", 3.0, 6, 9), RateSet("foo", 60.0, 120, 18))
    assert chain_labels(route) == ["rate-limit"]
    effect = chain_descriptions(route)[0]["effect"]
    assert effect == "429 with Retry-After beyond 6/3s burst 9, 120/60s burst 18 per client.ip"


def test_traefik_rate_limit_by_header() -> None:
    text = "extractorFunc: request.header.X-Api-Key\nrateset:\n  a:\n    average: 5\n"
    route, _ = compile_one({TRAEFIK + "rate-limit": text})
    limit = route.middlewares.access.rate_limit
    assert limit is not None and limit.source == SourceKey(SourceKind.HEADER, "X-Api-Key")
    assert limit.rates == (RateSet("a", 1.0, 5, 1),)  # period 1s and burst 1 when not given


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("extractorfunc: client.ip\nrateset: {}\n", "rateset is missing"),
        ("extractorfunc: client.port\nrateset: {a: {average: 1}}\n", "client.port"),
        ("extractorfunc: client.ip\nrateset: {a: {average: 0}}\n", "average 0"),
        ("extractorfunc: client.ip\nrateset: {a: {average: 5, period: soon}}\n", "period 'soon'"),
        ("extractorfunc: client.ip\nrateset: {a: {average: 5, burst: 1.5}}\n", "burst 1.5"),
        ("extractorfunc: [client.ip\n", "not YAML"),
        ("extractorfunc: client.ip\nrate: {}\n", "unknown key(s) rate"),
    ],
)
def test_bad_rate_limit_fails_closed(value: str, text: str) -> None:
    route, diagnostics = compile_one({TRAEFIK + "rate-limit": value})
    [error] = errors(diagnostics)
    assert error.location == Location("app.yaml", 10, 5) and text in error.message, error.message
    assert route.middlewares.access.rate_limit is None
    fails_closed(route, "rate-limit")


def test_nginx_limits() -> None:
    route, diagnostics = compile_one(
        {
            NGINX + "limit-rps": "5",
            NGINX + "limit-rpm": "100",
            NGINX + "limit-burst-multiplier": "3",
            NGINX + "limit-connections": "2",
            NGINX + "limit-whitelist": "10.0.0.0/8, 127.0.0.1",
        }
    )
    assert errors(diagnostics) == []
    access = route.middlewares.access
    assert access.rate_limit is not None and access.in_flight is not None
    assert access.rate_limit.rates == (RateSet("rps", 1.0, 5, 15), RateSet("rpm", 60.0, 100, 300))
    assert access.rate_limit.status == 503 and access.in_flight.status == 503
    assert access.rate_limit.exempt == ("10.0.0.0/8", "127.0.0.1/32") == access.in_flight.exempt
    assert access.in_flight.amount == 2
    assert chain_labels(route) == ["rate-limit", "in-flight-limit"]


@pytest.mark.parametrize("key", ["limit-rps", "limit-rpm", "limit-connections", "limit-burst-multiplier"])
def test_bad_nginx_limits_fail_closed(key: str) -> None:
    route, diagnostics = compile_one(
        {NGINX + "limit-rps": "5", NGINX + key: "lots"} if key != "limit-rps" else {NGINX + key: "lots"}
    )
    [error] = errors(diagnostics)
    assert NGINX + key in error.message and "'lots'" in error.message
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED


def test_limits_run_before_the_redirect_and_auth() -> None:
    route, _ = compile_one(
        {
            NGINX + "limit-rps": "5",
            NGINX + "denylist-source-range": "10.9.0.0/16",
            T1 + "ssl-redirect": "true",
            T1 + "auth-type": "forward",
            T1 + "auth-url": "http://auth.test/",
        }
    )
    assert chain_labels(route) == ["ip-deny-list", "rate-limit", "redirect->https", "forward-auth"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3s", 3.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("2", 2.0),
        ("1.5s", 1.5),
        ("3x", None),
        ("", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


# ------------------------------------------------------------------ Service annotations


def compile_with_service(annotations: Mapping[str, str]) -> tuple[list[Route], list[Diagnostic]]:
    svc = service()
    lines = {key: Location("svc.yaml", 5 + i, 5) for i, key in enumerate(annotations)}
    svc = dataclasses.replace(
        svc, meta=dataclasses.replace(svc.meta, annotations=dict(annotations), annotation_locations=lines)
    )
    two = ingress("app", rule("a.test", path("/", PREFIX)), rule("c.test", path("/", PREFIX)))
    snapshot = web_world(two)
    table, diagnostics = build(dataclasses.replace(snapshot, services=(svc,)))
    return list(table.routes), diagnostics


def test_service_max_conn() -> None:
    routes, diagnostics = compile_with_service(
        {TRAEFIK + "max-conn-amount": "10", TRAEFIK + "max-conn-extractor-func": "request.header.X-Tenant"}
    )
    assert errors(diagnostics) == []
    for route in routes:  # every route of the Service, one count
        limit = route.middlewares.access.backend_in_flight
        assert limit is not None and limit.amount == 10 and limit.status == 429
        assert limit.source == SourceKey(SourceKind.HEADER, "X-Tenant")
        assert limit.shared_by == "Service default/web"
        assert chain_descriptions(route)[0]["effect"] == (
            "429 beyond 10 request(s) in progress per request.header.X-Tenant, "
            "counted across Service default/web"
        )


@pytest.mark.parametrize(
    ("annotations", "line"),
    [
        ({TRAEFIK + "max-conn-amount": "ten"}, 5),
        ({TRAEFIK + "max-conn-amount": "10", TRAEFIK + "max-conn-extractor-func": "client.port"}, 6),
    ],
)
def test_bad_service_max_conn_fails_closed(annotations: dict[str, str], line: int) -> None:
    routes, diagnostics = compile_with_service(annotations)
    [error] = errors(diagnostics)  # once for the Service, not once per route
    assert error.location == Location("svc.yaml", line, 5) and "Service default/web" in error.message
    for route in routes:
        [stage] = [s for s in route_chain(route) if isinstance(s, FailClosedSpec)]
        assert stage.guards == "in-flight-limit" and stage.status == 503


def test_an_entrypoints_basic_auth_runs_before_forward_auth() -> None:
    route, _ = compile_one(
        {NGINX + "limit-rps": "5", T1 + "auth-type": "forward", T1 + "auth-url": "http://auth.test/"}
    )
    chain = route_chain(route)
    assert [s.label for s in chain[: auth_position(chain)]] == ["rate-limit"]
