"""Which route serves a request: the precedence rules of design.md, through compile()."""

from __future__ import annotations

import pytest

from ingressctl.model import HostKind, PathType
from ingressctl.routing import RoutingTable
from tests.routing.builders import (
    EXACT,
    IMPL,
    PREFIX,
    backend,
    build,
    ingress,
    path,
    route_id,
    rule,
    web_world,
)


def table_of(*ingresses_: object) -> RoutingTable:
    table, _ = build(web_world(*ingresses_))  # type: ignore[arg-type]
    return table


# ------------------------------------------------------------------ hosts


def test_wildcard_matches_exactly_one_extra_label() -> None:
    table = table_of(
        ingress("wild", rule("*.example.com", path("/"))),
        ingress("apex", rule("example.com", path("/"))),
    )
    assert route_id(table, "a.example.com", "/") == "default/wild#r0p0"
    assert route_id(table, "example.com", "/") == "default/apex#r0p0"
    assert route_id(table, "a.b.example.com", "/") is None
    assert route_id(table, "other.test", "/") is None


def test_exact_host_beats_wildcard() -> None:
    table = table_of(
        ingress("wild", rule("*.example.com", path("/"))),
        ingress("www", rule("www.example.com", path("/"))),
    )
    assert route_id(table, "www.example.com", "/x") == "default/www#r0p0"
    assert route_id(table, "api.example.com", "/x") == "default/wild#r0p0"


def test_exact_host_beats_wildcard_even_with_a_shorter_path() -> None:
    table = table_of(
        ingress("wild", rule("*.example.com", path("/api/v1"))),
        ingress("www", rule("www.example.com", path("/"))),
    )
    assert route_id(table, "www.example.com", "/api/v1/users") == "default/www#r0p0"


def test_wildcard_used_when_exact_host_has_no_matching_path() -> None:
    table = table_of(
        ingress("wild", rule("*.example.com", path("/"))),
        ingress("www", rule("www.example.com", path("/only", EXACT))),
    )
    assert route_id(table, "www.example.com", "/only") == "default/www#r0p0"
    assert route_id(table, "www.example.com", "/other") == "default/wild#r0p0"


def test_host_rule_for_root_beats_longer_path_in_hostless_rule() -> None:
    table = table_of(
        ingress("any", rule(None, path("/api/v1/long"))),
        ingress("host", rule("h.example.com", path("/"))),
    )
    assert route_id(table, "h.example.com", "/api/v1/long/x") == "default/host#r0p0"
    assert route_id(table, "other.example.com", "/api/v1/long/x") == "default/any#r0p0"
    assert route_id(table, "other.example.com", "/") is None


@pytest.mark.parametrize(
    "header", ["H.Example.COM", "h.example.com:8443", "h.example.com.", "H.EXAMPLE.com.:80"]
)
def test_host_header_port_dot_and_case_are_ignored(header: str) -> None:
    table = table_of(ingress("host", rule("h.example.com", path("/"))))
    assert route_id(table, header, "/") == "default/host#r0p0"


def test_declared_host_is_lower_cased() -> None:
    table = table_of(ingress("host", rule("H.Example.COM", path("/"))))
    assert table.routes[0].host == "h.example.com"
    assert route_id(table, "h.example.com", "/") == "default/host#r0p0"


def test_ipv6_literal_host_matches_hostless_rule() -> None:
    table = table_of(ingress("any", rule(None, path("/"))))
    assert route_id(table, "[::1]:8080", "/") == "default/any#r0p0"


# ------------------------------------------------------------------ paths


def test_prefix_matches_whole_elements() -> None:
    table = table_of(ingress("a", rule("h", path("/foo"))))
    for hit in ["/foo", "/foo/", "/foo/bar"]:
        assert route_id(table, "h", hit) == "default/a#r0p0", hit
    for miss in ["/foobar", "/fo", "/", "/bar/foo"]:
        assert route_id(table, "h", miss) is None, miss


def test_prefix_trailing_slash_is_ignored() -> None:
    table = table_of(ingress("a", rule("h", path("/foo/"))))
    assert route_id(table, "h", "/foo") == "default/a#r0p0"
    assert route_id(table, "h", "/foo/x") == "default/a#r0p0"
    assert route_id(table, "h", "/foobar") is None


def test_prefix_longest_wins_foo_vs_foobar() -> None:
    table = table_of(ingress("a", rule("h", path("/foo"), path("/foobar", service="web"))))
    assert route_id(table, "h", "/foobar") == "default/a#r0p1"
    assert route_id(table, "h", "/foobar/x") == "default/a#r0p1"
    assert route_id(table, "h", "/foo/bar") == "default/a#r0p0"
    assert route_id(table, "h", "/foobarbaz") is None


def test_exact_matches_only_the_exact_path() -> None:
    table = table_of(ingress("a", rule("h", path("/foo", EXACT))))
    assert route_id(table, "h", "/foo") == "default/a#r0p0"
    assert route_id(table, "h", "/foo/") is None
    assert route_id(table, "h", "/foo/bar") is None


def test_exact_with_trailing_slash_does_not_match_without() -> None:
    table = table_of(ingress("a", rule("h", path("/foo/", EXACT))))
    assert route_id(table, "h", "/foo/") == "default/a#r0p0"
    assert route_id(table, "h", "/foo") is None


def test_exact_beats_prefix_at_equal_length() -> None:
    table = table_of(ingress("a", rule("h", path("/foo", PREFIX), path("/foo", EXACT))))
    assert route_id(table, "h", "/foo") == "default/a#r0p1"
    assert route_id(table, "h", "/foo/x") == "default/a#r0p0"


def test_longer_prefix_beats_shorter_exact_elsewhere() -> None:
    table = table_of(ingress("a", rule("h", path("/", EXACT), path("/api"))))
    assert route_id(table, "h", "/") == "default/a#r0p0"
    assert route_id(table, "h", "/api") == "default/a#r0p1"


def test_implementation_specific_is_a_string_prefix() -> None:
    table = table_of(ingress("a", rule("h", path("/foo", IMPL))))
    assert route_id(table, "h", "/foobar") == "default/a#r0p0"
    assert route_id(table, "h", "/foo/x") == "default/a#r0p0"
    assert route_id(table, "h", "/fo") is None


def test_missing_path_type_is_implementation_specific() -> None:
    table = table_of(ingress("legacy", rule("h", path("/foo", None))))
    assert table.routes[0].path_type is PathType.IMPLEMENTATION_SPECIFIC
    assert route_id(table, "h", "/foobar") == "default/legacy#r0p0"


def test_longest_across_kinds_and_prefix_beats_impl_at_equal_length() -> None:
    table = table_of(
        ingress(
            "a", rule("h", path("/api", IMPL), path("/api", PREFIX), path("/ap", IMPL), path("/api/v1", IMPL))
        )
    )
    assert route_id(table, "h", "/api/x") == "default/a#r0p1"  # Prefix /api beats IS /api (equal length)
    assert route_id(table, "h", "/apix") == "default/a#r0p0"  # only IS /api matches at length 4
    assert route_id(table, "h", "/apq") == "default/a#r0p2"
    assert route_id(table, "h", "/api/v1x") == "default/a#r0p3"


def test_root_prefix_catches_everything_for_its_host() -> None:
    table = table_of(ingress("a", rule("h", path("/"), path("/api"))))
    assert route_id(table, "h", "/") == "default/a#r0p0"
    assert route_id(table, "h", "/anything/else") == "default/a#r0p0"
    assert route_id(table, "h", "/api/v2") == "default/a#r0p1"


def test_empty_path_means_root() -> None:
    table = table_of(ingress("a", rule("h", path("", None))))
    assert table.routes[0].path == "/"
    assert route_id(table, "h", "/x") == "default/a#r0p0"
    assert route_id(table, "h", "") == "default/a#r0p0"


def test_rules_for_one_host_merge_across_ingresses() -> None:
    table = table_of(
        ingress("api", rule("h", path("/api"))),
        ingress("site", rule("h", path("/"))),
    )
    assert route_id(table, "h", "/api/x") == "default/api#r0p0"
    assert route_id(table, "h", "/about") == "default/site#r0p0"


# ------------------------------------------------------------------ priority


def test_priority_beats_length_within_a_host() -> None:
    table = table_of(
        ingress("long", rule("h", path("/api/v1"))),
        ingress("prio", rule("h", path("/")), annotations={"traefik.frontend.priority": "10"}),
    )
    assert route_id(table, "h", "/api/v1/x") == "default/prio#r0p0"


def test_priority_does_not_cross_host_tiers() -> None:
    table = table_of(
        ingress(
            "any", rule(None, path("/")), annotations={"traefik.ingress.kubernetes.io/router.priority": "99"}
        ),
        ingress("host", rule("h", path("/x"))),
    )
    assert route_id(table, "h", "/x") == "default/host#r0p0"
    assert route_id(table, "h", "/y") == "default/any#r0p0"


def test_lower_priority_level_used_when_higher_has_no_match() -> None:
    table = table_of(
        ingress("prio", rule("h", path("/admin")), annotations={"traefik.frontend.priority": "5"}),
        ingress("rest", rule("h", path("/"))),
    )
    assert route_id(table, "h", "/admin/x") == "default/prio#r0p0"
    assert route_id(table, "h", "/public") == "default/rest#r0p0"


# ------------------------------------------------------------------ default backend


def test_default_backend_catches_unmatched_requests() -> None:
    table = table_of(ingress("a", rule("h", path("/api")), default=backend("web", 80)))
    assert route_id(table, "h", "/api") == "default/a#r0p0"
    assert route_id(table, "h", "/other") == "default/a#default"
    assert route_id(table, "unknown.test", "/") == "default/a#default"
    assert table.default_route is not None and table.default_route.is_default_backend


def test_hostless_rule_beats_default_backend() -> None:
    table = table_of(ingress("a", rule(None, path("/x")), default=backend("web", 80)))
    assert route_id(table, "any", "/x") == "default/a#r0p0"
    assert route_id(table, "any", "/y") == "default/a#default"


def test_no_match_without_default_backend_is_none() -> None:
    table = table_of(ingress("a", rule("h", path("/api"))))
    assert table.match("h", "/nope") is None
    assert table.explain("h", "/nope") is None


# ------------------------------------------------------------------ table API


def test_hosts_lists_exact_and_wildcard_hosts() -> None:
    table = table_of(
        ingress(
            "a", rule("A.example.com", path("/")), rule("*.example.com", path("/")), rule(None, path("/x"))
        )
    )
    assert table.hosts() == {"a.example.com", "*.example.com"}
    kinds = {r.host: r.host_kind for r in table.routes}
    assert kinds == {"a.example.com": HostKind.EXACT, "*.example.com": HostKind.WILDCARD, None: HostKind.ANY}


def test_route_ids_are_stable_across_compiles() -> None:
    snapshot = web_world(
        ingress("b", rule("h", path("/b"), path("/c"))),
        ingress("a", rule("h", path("/a")), rule("g", path("/")), default=backend()),
    )
    first, _ = build(snapshot)
    second, _ = build(snapshot)
    assert [r.id for r in first.routes] == [r.id for r in second.routes]
    assert {r.id for r in first.routes} == {
        "default/a#r0p0",
        "default/a#r1p0",
        "default/b#r0p0",
        "default/b#r0p1",
    }
    assert first.default_route is not None and first.default_route.id == "default/a#default"


def test_table_can_be_built_directly() -> None:
    compiled = table_of(ingress("a", rule("h", path("/api")), rule(None, path("/"))))
    rebuilt = RoutingTable(compiled.routes)
    assert route_id(rebuilt, "h", "/api/1") == "default/a#r0p0"
    assert route_id(rebuilt, "x", "/") == "default/a#r1p0"
    assert RoutingTable([]).match("h", "/") is None


def test_many_implementation_specific_lengths_agree_with_reference() -> None:
    # More than a handful of distinct lengths switches the index to its binary-search form.
    declared = [
        "/a",
        "/ab",
        "/abc/",
        "/abc/d",
        "/abcd",
        "/b/c/d/e",
        "/b/c/d/e/f/g",
        "/api",
        "/api/v1",
        "/api/v10",
    ]
    declared += ["/x" * n for n in range(1, 12)]
    table = table_of(
        ingress("impl", rule("h", *[path(p, IMPL) for p in declared])),
        ingress("pre", rule("h", path("/api/v1", PREFIX), path("/b/c", PREFIX))),
    )
    requests = [
        "/",
        "/a",
        "/ab",
        "/abc",
        "/abc/",
        "/abc/de",
        "/abcde",
        "/api",
        "/api/v1",
        "/api/v1/x",
        "/api/v10",
    ]
    requests += ["/api/v100", "/b/c/d/e/f/g/h", "/b/c/d", "/x" * 13, "/x/x/y", "/zzz"]
    for request in requests:
        fast, full = table.match("h", request), table.explain("h", request)
        assert (fast and fast.route.id) == (full and full.route.id), request
    assert route_id(table, "h", "/api/v1/x") == "default/pre#r0p0"  # Prefix beats IS at equal length
    assert route_id(table, "h", "/api/v100") == "default/impl#r0p9"
    assert route_id(table, "h", "/x" * 13) == "default/impl#r0p20"
    assert route_id(table, "h", "/zzz") is None
