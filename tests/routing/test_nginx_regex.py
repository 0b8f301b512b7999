"""ingress-nginx regex paths in the routing table: which hosts, which order, which captures.

Expected behaviour from ingress-nginx's user guide, "Ingress Path Matching"
(https://kubernetes.github.io/ingress-nginx/user-guide/ingress-path-matching/) and the annotations
page ("Rewrite", "use-regex").
"""

from __future__ import annotations

import pytest

from ingressctl.model import BackendProblem
from ingressctl.routing.chain import route_chain
from ingressctl.routing.chain_nginx import RewriteTargetSpec
from ingressctl.routing.nginx_paths import capture_groups
from ingressctl.routing.regex_table import literal_prefix
from tests.routing.builders import (
    EXACT,
    IMPL,
    PREFIX,
    build,
    codes_of,
    ingress,
    path,
    route_id,
    rule,
    web_world,
)

USE_REGEX = {"nginx.ingress.kubernetes.io/use-regex": "true"}


def test_path_priority_example_of_the_user_guide() -> None:
    # test-ingress-1 (no annotation) and test-ingress-2 (rewrite-target) share test.com: every path of
    # the host becomes a regex, longest first.
    one = ingress("one", rule("test.com", path("/foo/bar", IMPL, "s1"), path("/foo/bar/", IMPL, "s2")))
    two = ingress(
        "two",
        rule("test.com", path("/foo/bar/(.+)", IMPL, "s3")),
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$1"},
    )
    table, _ = build(web_world(one, two))
    assert route_id(table, "test.com", "/foo/bar/1") == "default/two#r0p0"
    assert route_id(table, "test.com", "/foo/bar/") == "default/one#r0p1"
    assert route_id(table, "test.com", "/foo/bar") == "default/one#r0p0"
    assert all(r.regex is not None for r in table.routes)


def test_warning_example_first_matching_regex_wins_over_the_exact_text() -> None:
    subject = ingress(
        "three",
        rule("test.com", path("/foo/bar/bar", IMPL, "a"), path("/foo/bar/[A-Z0-9]{3}", IMPL, "b")),
        annotations=USE_REGEX,
    )
    table, _ = build(web_world(subject))
    assert route_id(table, "test.com", "/foo/bar/bar") == "default/three#r0p1"
    explained = table.explain("test.com", "/foo/bar/bar")
    assert explained is not None and explained.route.id == "default/three#r0p1"
    assert [r.id for r in explained.shadowed] == ["default/three#r0p0"]


def test_regex_is_case_insensitive_and_anchored_at_the_start_only() -> None:
    table, _ = build(
        web_world(ingress("r", rule("a.test", path("/api/v[0-9]+", PREFIX)), annotations=USE_REGEX))
    )
    assert route_id(table, "a.test", "/API/V2/users") == "default/r#r0p0"
    assert route_id(table, "a.test", "/x/api/v2") is None


def test_regex_applies_per_host_only() -> None:
    regex = ingress("r", rule("a.test", path("/a.c", PREFIX)), annotations=USE_REGEX)
    plain = ingress("p", rule("b.test", path("/a.c", PREFIX)))
    table, _ = build(web_world(regex, plain))
    assert route_id(table, "a.test", "/abc") == "default/r#r0p0"
    assert route_id(table, "b.test", "/abc") is None
    assert route_id(table, "b.test", "/a.c/d") == "default/p#r0p0"


def test_exact_paths_of_a_regex_host_are_regexes_too() -> None:
    # ingress-nginx writes every location of an enforced-regex host as ~* "^PATH", Exact included.
    table, _ = build(web_world(ingress("r", rule("a.test", path("/x", EXACT)), annotations=USE_REGEX)))
    assert route_id(table, "a.test", "/x/y") == "default/r#r0p0"


def test_a_path_re2_refuses_is_an_error_and_not_routed() -> None:
    subject = ingress("r", rule("a.test", path("/(a)\\1", IMPL), path("/ok", PREFIX)), annotations=USE_REGEX)
    table, diagnostics = build(web_world(subject))
    assert [r.path for r in table.routes] == ["/ok"]
    assert "IC217" in codes_of(diagnostics)


@pytest.mark.parametrize(
    ("declared", "target", "request_path", "upstream"),
    [
        # The rewrite example of ingress-nginx's docs (docs/examples/rewrite).
        ("/something(/|$)(.*)", "/$2", "/something", "/"),
        ("/something(/|$)(.*)", "/$2", "/something/", "/"),
        ("/something(/|$)(.*)", "/$2", "/something/new", "/new"),
        ("/api(/|$)(.*)", "/v2/$2", "/API/users/7", "/v2/users/7"),
        # Without groups the whole path is replaced (ingress-nginx >= 0.22).
        ("/foo", "/", "/foo/bar", "/"),
    ],
)
def test_rewrite_target(declared: str, target: str, request_path: str, upstream: str) -> None:
    subject = ingress(
        "r",
        rule("a.test", path(declared, IMPL)),
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": target},
    )
    table, _ = build(web_world(subject))
    found = table.match("a.test", request_path)
    assert found is not None
    [spec] = [s for s in route_chain(found.route) if isinstance(s, RewriteTargetSpec)]
    assert spec.rewrite(request_path) == upstream


def test_rewrite_target_with_a_missing_group_warns() -> None:
    subject = ingress(
        "r",
        rule("a.test", path("/a/(.*)", IMPL)),
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$3"},
    )
    _, diagnostics = build(web_world(subject))
    assert any(d.code == "IC213" and "$3" in d.message for d in diagnostics)


def test_regex_routes_keep_failing_closed() -> None:
    subject = ingress(
        "r",
        rule("a.test", path("/a/(.*)", IMPL)),
        annotations={**USE_REGEX, "nginx.ingress.kubernetes.io/configuration-snippet": "deny all;"},
    )
    table, _ = build(web_world(subject))
    found = table.match("a.test", "/a/b")
    assert found is not None and found.route.backend.problem is BackendProblem.ANNOTATION_REFUSED


def test_literal_prefix_and_groups() -> None:
    assert literal_prefix("/API/v1/(.*)") == "/api/v1/"
    assert literal_prefix("/ab?c") == "/a"
    assert literal_prefix("/a|/b") == ""
    assert literal_prefix("/a/(b|c)") == "/a/"
    assert literal_prefix("/a/[|]") == "/a/"
    assert capture_groups("/a(/|$)(?:x)(?P<n>.*)[(]\\(") == 2
