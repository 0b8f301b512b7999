"""Snippets, misspelt protections, the ingress-nginx registry and the takeover rule for class-less
Ingresses (ingress-nginx's --watch-ingress-without-class, default false)."""

from __future__ import annotations

import dataclasses

import pytest

from ingressctl.model import BackendProblem, Severity
from ingressctl.routing.annotations import KNOWN_ANNOTATIONS
from ingressctl.routing.nginx_annotations import Status, all_statuses, nginx_status
from ingressctl.routing.snippets import describe_snippet
from ingressctl.routing.takeover import parse_watch_without_class, serve_unclassed
from tests.routing.builders import PREFIX, build, ingress, ingress_class, path, rule, web_world

SNIPPET = "nginx.ingress.kubernetes.io/configuration-snippet"


@pytest.mark.parametrize(
    ("snippet", "does", "instead"),
    [
        ('more_set_headers "X-Frame-Options: DENY";', "sets response headers", "custom-response-headers"),
        ("return 301 https://example.com$request_uri;", "redirects", "permanent-redirect"),
        ("deny 10.0.0.0/8;\nallow all;", "refuses clients by address", "whitelist-source-range"),
        ("if ($host = a) { rewrite ^ /b permanent; }", "redirects", "temporal-redirect"),
        ("access_by_lua_block { ngx.exit(403) }", "runs Lua code", ""),
    ],
)
def test_snippets_say_what_they_tried(snippet: str, does: str, instead: str) -> None:
    found_does, found_instead = describe_snippet(snippet)
    assert does in found_does
    assert instead in found_instead


def test_snippet_fails_closed_unless_ignored() -> None:
    subject = ingress(
        "app", rule("a.test", path("/", PREFIX)), annotations={SNIPPET: "more_set_headers 'X: y';"}
    )
    table, diagnostics = build(web_world(subject))
    [route] = table.routes
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    [error] = [d for d in diagnostics if d.code == "IC220"]
    assert error.severity is Severity.ERROR and "sets response headers" in error.message
    table, diagnostics = build(web_world(subject), ignore_snippets=True)
    [route] = table.routes
    assert route.backend.problem is None
    [warning] = [d for d in diagnostics if d.code == "IC220"]
    assert warning.severity is Severity.WARNING and "--ignore-snippets" in warning.message


def test_ignore_snippets_does_not_open_other_protections() -> None:
    subject = ingress(
        "app",
        rule("a.test", path("/", PREFIX)),
        annotations={SNIPPET: "deny all;", "nginx.ingress.kubernetes.io/enable-modsecurity": "true"},
    )
    table, _ = build(web_world(subject), ignore_snippets=True)
    [route] = table.routes
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    assert (
        "enable-modsecurity" in route.backend.problem_detail and SNIPPET not in route.backend.problem_detail
    )


@pytest.mark.parametrize(
    "key",
    [
        "ingress.kubernetes.io/auth-typ",
        "ingress.kubernetes.io/whitelist-source-rang",
        "nginx.ingress.kubernetes.io/whitelist-source-rang",
        "nginx.ingress.kubernetes.io/auht-url",
    ],
)
def test_misspelt_protection_fails_closed(key: str) -> None:
    subject = ingress("app", rule("a.test", path("/", PREFIX)), annotations={key: "basic"})
    table, diagnostics = build(web_world(subject))
    [route] = table.routes
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    assert any(d.code == "IC220" and d.severity is Severity.ERROR and key in d.message for d in diagnostics)


def test_misspelt_harmless_key_is_served() -> None:
    subject = ingress(
        "app",
        rule("a.test", path("/", PREFIX)),
        annotations={"nginx.ingress.kubernetes.io/proxy-body-siz": "8m"},
    )
    table, _ = build(web_world(subject))
    assert table.routes[0].backend.problem is None


def test_registry_reads_the_code() -> None:
    statuses = {s.key: s for s in all_statuses()}
    for key, status in statuses.items():
        implemented = key in KNOWN_ANNOTATIONS
        assert (status.status in (Status.SUPPORTED, Status.CHANGES)) == implemented, key
    assert statuses["nginx.ingress.kubernetes.io/use-regex"].status is Status.CHANGES
    assert statuses["nginx.ingress.kubernetes.io/server-snippet"].status is Status.REFUSED
    assert nginx_status("nginx.ingress.kubernetes.io/nonsense") is not None
    assert nginx_status("ingress.kubernetes.io/auth-type") is None


def test_takeover_rule_for_classless_ingresses() -> None:
    assert serve_unclassed("k8s.io/ingress-nginx", None) is False
    assert serve_unclassed("k8s.io/ingress-nginx", True) is True
    assert serve_unclassed("ingressctl.io/ingress-controller", None) is True
    assert parse_watch_without_class("true") is True and parse_watch_without_class(None) is None


def test_takeover_serves_nginx_classes_only() -> None:
    by_annotation = ingress(
        "a", rule("a.test", path("/")), annotations={"kubernetes.io/ingress.class": "nginx"}
    )
    by_name = ingress("b", rule("b.test", path("/")), class_name="nginx")
    by_controller = ingress("c", rule("c.test", path("/")), class_name="public")
    classless = ingress("d", rule("d.test", path("/")))
    traefik = ingress("e", rule("e.test", path("/")), class_name="traefik")
    world = dataclasses.replace(
        web_world(by_annotation, by_name, by_controller, classless, traefik),
        ingress_classes=(ingress_class("public", "k8s.io/ingress-nginx"),),
    )
    options = {
        "ingress_class": "nginx",
        "controller_name": "k8s.io/ingress-nginx",
        "extra_classes": (),
        "serve_unclassed": False,
    }
    table, _ = build(world, **options)
    assert sorted(r.host or "" for r in table.routes) == ["a.test", "b.test", "c.test"]
    table, _ = build(world, **{**options, "serve_unclassed": True})
    assert sorted(r.host or "" for r in table.routes) == ["a.test", "b.test", "c.test", "d.test"]


# ------------------------------------------ canary (ingress-nginx annotations page, "Canary")


def _canary_world(weight: str, total: str | None = None) -> tuple[object, list[object]]:
    from tests.routing.builders import endpoint_slice, ep, service

    main = ingress("main", rule("a.test", path("/", PREFIX, "web")), ts="2024-01-01T00:00:00Z")
    notes = {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": weight,
    }
    if total is not None:
        notes["nginx.ingress.kubernetes.io/canary-weight-total"] = total
    canary = ingress(
        "canary", rule("a.test", path("/", PREFIX, "new")), annotations=notes, ts="2024-02-01T00:00:00Z"
    )
    world = web_world(
        main, canary, services=(service("new"),), endpoint_slices=(endpoint_slice("new", ep("10.0.0.2")),)
    )
    table, diagnostics = build(world)
    return table, diagnostics


def test_canary_weight_splits_the_main_route() -> None:
    table, diagnostics = _canary_world("20")
    [route] = table.routes  # merged: no conflict
    assert route.backend.split == (("web", 80.0), ("new", 20.0))
    assert {u.host: u.weight for u in route.backend.upstreams} == {"10.0.0.1": 8000, "10.0.0.2": 2000}
    assert not [d for d in diagnostics if d.code == "IC201"]


def test_canary_weight_total_and_zero() -> None:
    table, _ = _canary_world("1", "4")
    assert table.routes[0].backend.split == (("web", 75.0), ("new", 25.0))
    table, _ = _canary_world("0")
    assert [u.host for u in table.routes[0].backend.upstreams] == ["10.0.0.1"]


# ------------------------------------------ CORS (ingress-nginx annotations page, "Enable CORS")


def test_cors_values_and_chain() -> None:
    from ingressctl.routing.chain import route_chain
    from ingressctl.routing.chain_nginx import CorsSpec

    notes = {
        "nginx.ingress.kubernetes.io/enable-cors": "true",
        "nginx.ingress.kubernetes.io/cors-allow-origin": "https://a.test, not an origin",
        "nginx.ingress.kubernetes.io/cors-max-age": "soon",
        "nginx.ingress.kubernetes.io/cors-allow-credentials": "false",
    }
    table, diagnostics = build(
        web_world(ingress("app", rule("a.test", path("/", PREFIX)), annotations=notes))
    )
    [spec] = [s for s in route_chain(table.routes[0]) if isinstance(s, CorsSpec)]
    assert spec.policy.allow_origins == ("*",) and spec.policy.max_age == 1728000
    assert spec.policy.allow_credentials is False
    assert sorted(d.message.split(": ")[1].split(" ")[1] for d in diagnostics if d.code == "IC213") == [
        "nginx.ingress.kubernetes.io/cors-allow-origin",
        "nginx.ingress.kubernetes.io/cors-max-age",
    ]
    wildcard = CorsSpec(dataclasses.replace(spec.policy, allow_origins=("https://*.example.com:8443",)))
    assert wildcard.allowed_origin("https://a.b.example.com:8443") == "https://a.b.example.com:8443"
    assert wildcard.allowed_origin("https://example.com:8443") is None
    assert wildcard.allowed_origin("https://a.example.com") is None
    assert wildcard.allowed_origin(None) is None
