"""Annotations the compiler refuses to serve around: other controllers' protections (IC220) and values
with control characters (IC219). Each is an error at the annotation's line and the Ingress's routes
answer 503 (BackendProblem.ANNOTATION_REFUSED); other Ingresses are untouched."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from ingressctl.model import BackendProblem, Diagnostic, Ingress, Location, Route, Severity
from ingressctl.routing.refusals import control_characters, protection
from tests.routing.builders import PREFIX, build, ingress, path, rule, secret, web_world

HTPASSWD = b"alice:{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M=\n"
AUTH = {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"}


def annotated(annotations: Mapping[str, str]) -> Ingress:
    """Ingress default/app for a.test, its annotations on lines 10, 11, ... of app.yaml (column 5)."""
    subject = ingress("app", rule("a.test", path("/", PREFIX)), annotations=annotations)
    lines = {key: Location("app.yaml", 10 + i, 5) for i, key in enumerate(annotations)}
    return dataclasses.replace(subject, meta=dataclasses.replace(subject.meta, annotation_locations=lines))


def compile_two(annotations: Mapping[str, str]) -> tuple[Route, Route, list[Diagnostic]]:
    """An Ingress with `annotations` and a plain neighbour: (its route, the neighbour's, findings)."""
    subject = annotated(annotations)
    other = ingress("other", rule("b.test", path("/", PREFIX)))
    table, diagnostics = build(web_world(subject, other, secrets=(secret("creds", {"auth": HTPASSWD}),)))
    by_host = {r.host: r for r in table.routes}
    return by_host["a.test"], by_host["b.test"], diagnostics


SECURITY = [
    ("nginx.ingress.kubernetes.io/auth-tls-match-cn", "CN=alice"),
    ("nginx.ingress.kubernetes.io/global-rate-limit", "100"),
    ("nginx.ingress.kubernetes.io/configuration-snippet", "more_set_headers 'X: y';"),
    ("nginx.ingress.kubernetes.io/server-snippet", "return 301 https://x;"),
    ("nginx.ingress.kubernetes.io/stream-snippet", "server {}"),
    ("nginx.ingress.kubernetes.io/auth-snippet", "deny all;"),
    ("nginx.ingress.kubernetes.io/auth-cache-key", "$remote_user"),
    ("nginx.ingress.kubernetes.io/auth-proxy-set-headers", "default/auth-headers"),
    ("nginx.ingress.kubernetes.io/enable-modsecurity", "true"),
    ("nginx.ingress.kubernetes.io/ssl-passthrough", "true"),
    ("nginx.org/server-snippets", "deny all;"),
    ("nginx.org/basic-auth-secret", "creds"),
    ("traefik.ingress.kubernetes.io/max-conn", "amount: 10"),
    ("traefik.ingress.kubernetes.io/router.middlewares", "default-auth@kubernetescrd"),
    ("traefik.ingress.kubernetes.io/router.tls.options", "default-mtls@kubernetescrd"),
]


@pytest.mark.parametrize(("key", "value"), SECURITY)
def test_foreign_protections_fail_closed(key: str, value: str) -> None:
    route, neighbour, diagnostics = compile_two({key: value})
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    assert key in route.backend.problem_detail
    assert neighbour.backend.problem is None
    [refused] = [d for d in diagnostics if d.code == "IC220"]
    assert refused.severity is Severity.ERROR
    assert refused.location == Location("app.yaml", 10, 5)
    assert f"annotation {key} " in refused.message
    assert "answers 503" in refused.message


HARMLESS = [
    "nginx.ingress.kubernetes.io/rewrite-target",
    "nginx.ingress.kubernetes.io/proxy-buffer-size",
    "nginx.ingress.kubernetes.io/auth-realm",  # only the prompt of an auth-type
    "nginx.ingress.kubernetes.io/enable-cors",
    "traefik.ingress.kubernetes.io/router.observability.metrics",
    "cert-manager.io/cluster-issuer",
]


@pytest.mark.parametrize("key", HARMLESS)
def test_harmless_foreign_annotations_are_served(key: str) -> None:
    assert protection(key) is None
    route, _, diagnostics = compile_two({key: "x"})
    assert route.backend.problem is None
    assert not [d for d in diagnostics if d.code in ("IC219", "IC220")]


@pytest.mark.parametrize(
    "bad", ["Staff\r\nX-Injected: 1", "Staff\nArea", "Sta\x00ff", "Sta\x1b[31mff", "Staff\x7f"]
)
def test_realm_with_control_characters_fails_closed(bad: str) -> None:
    route, neighbour, diagnostics = compile_two({**AUTH, "ingress.kubernetes.io/auth-realm": bad})
    # The auth itself refuses (before any challenge could carry the realm), and the route is refused.
    assert route.middlewares.basic_auth is None
    assert route.backend.problem is BackendProblem.AUTH_SECRET_INVALID
    assert neighbour.backend.problem is None
    [unsafe] = [d for d in diagnostics if d.code == "IC219"]
    assert unsafe.severity is Severity.ERROR
    assert unsafe.location == Location("app.yaml", 12, 5)
    assert "ingress.kubernetes.io/auth-realm holds control characters" in unsafe.message
    assert "\r" not in unsafe.message and "\n" not in unsafe.message and "\x00" not in unsafe.message


def test_a_trailing_newline_of_a_yaml_block_is_not_a_control_character() -> None:
    route, _, diagnostics = compile_two({**AUTH, "ingress.kubernetes.io/auth-realm": "Staff area\n"})
    assert route.backend.problem is None
    assert route.middlewares.basic_auth is not None and route.middlewares.basic_auth.realm == "Staff area"
    assert "IC219" not in [d.code for d in diagnostics]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("traefik.ingress.kubernetes.io/redirect-entry-point", "https\r\nLocation: //evil.test"),
        ("traefik.ingress.kubernetes.io/router.tls.certresolver", "le\nINFO forged log line"),
        ("ingress.kubernetes.io/auth-secret", "cre\r\nds"),
        ("traefik.frontend.priority", "1\x00"),
    ],
)
def test_other_values_with_control_characters_fail_closed(key: str, value: str) -> None:
    route, neighbour, diagnostics = compile_two({key: value})
    assert route.backend.problem in (BackendProblem.ANNOTATION_REFUSED, BackendProblem.AUTH_SECRET_INVALID)
    assert neighbour.backend.problem is None
    assert [d.code for d in diagnostics if d.severity is Severity.ERROR].count("IC219") == 1


def test_list_values_may_span_lines() -> None:
    weights = "web: 90%\nweb2: 10%\n"
    ranges = "10.0.0.0/8,\n\t192.168.0.0/16"
    route, _, diagnostics = compile_two(
        {
            "traefik.ingress.kubernetes.io/service-weights": weights,
            "ingress.kubernetes.io/whitelist-source-range": ranges,
        }
    )
    assert "IC219" not in [d.code for d in diagnostics]
    assert route.middlewares.allow_source_ranges == ("10.0.0.0/8", "192.168.0.0/16")
    assert control_characters("10.0.0.0/8\r\n\x00", multi_line=True) == ["\\x00"]


def test_htpasswd_user_names_with_control_characters_break_the_auth_secret() -> None:
    subject = annotated(AUTH)
    bad = b"ali\x1bce:{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M=\n"
    table, diagnostics = build(web_world(subject, secrets=(secret("creds", {"auth": bad}),)))
    [route] = table.routes
    assert route.backend.problem is BackendProblem.AUTH_SECRET_INVALID
    [broken] = [d for d in diagnostics if d.code == "IC212"]
    assert "user name 'ali\\x1bce' holds control characters" in broken.message
    assert "\x1b" not in broken.message
