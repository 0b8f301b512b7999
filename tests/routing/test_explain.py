"""explain(): the same winner as match(), a reason a person can read, and what it shadows."""

from __future__ import annotations

from tests.routing.builders import EXACT, IMPL, backend, build, ingress, path, rule, web_world


def test_explain_names_host_path_and_tie_break() -> None:
    table, _ = build(
        web_world(ingress("a", rule("h5ai.example.test", path("/api"), path("/api", EXACT), path("/"))))
    )
    found = table.explain("h5ai.example.test", "/api")
    assert found is not None
    assert found.route.id == "default/a#r0p1"
    assert found.reason.startswith("exact host h5ai.example.test, Exact /api equals the path")
    assert "Exact beats Prefix at equal length" in found.reason
    assert [r.id for r in found.shadowed] == ["default/a#r0p0", "default/a#r0p2"]

    longest = table.explain("H5AI.example.test:443", "/api/users")
    assert longest is not None
    assert longest.route.id == "default/a#r0p0"
    assert "Prefix /api is the longest matching path (4 chars)" in longest.reason


def test_explain_shadowed_in_precedence_order_including_default() -> None:
    table, _ = build(
        web_world(
            ingress(
                "a",
                rule("www.example.com", path("/")),
                rule("*.example.com", path("/docs")),
                rule(None, path("/docs/v1", IMPL)),
                default=backend(),
            )
        )
    )
    found = table.explain("www.example.com", "/docs/v1/intro")
    assert found is not None
    assert found.route.id == "default/a#r0p0"
    assert [r.id for r in found.shadowed] == ["default/a#r1p0", "default/a#r2p0", "default/a#default"]
    assert "exact host beats wildcard *.example.com" in found.reason
    assert "beats the rule without host" in found.reason


def test_explain_wildcard_and_default_reasons() -> None:
    table, _ = build(web_world(ingress("a", rule("*.example.com", path("/")), default=backend())))
    wild = table.explain("a.example.com", "/")
    assert wild is not None and "wildcard host *.example.com matches a.example.com" in wild.reason
    fallback = table.explain("b.other.test", "/x")
    assert fallback is not None and fallback.route.is_default_backend
    assert "defaultBackend of Ingress default/a" in fallback.reason
    assert fallback.shadowed == ()


def test_explain_priority_reason() -> None:
    table, _ = build(
        web_world(
            ingress("long", rule("h", path("/api/v1"))),
            ingress("prio", rule("h", path("/")), annotations={"traefik.frontend.priority": "3"}),
        )
    )
    found = table.explain("h", "/api/v1/x")
    assert found is not None and found.route.id == "default/prio#r0p0"
    assert "priority 3 beats the longer Prefix /api/v1 (priority 0)" in found.reason


def test_match_agrees_with_explain() -> None:
    table, _ = build(
        web_world(
            ingress(
                "a",
                rule("h", path("/a"), path("/a/b", EXACT), path("/a/bc", IMPL)),
                rule("*.h", path("/")),
                rule(None, path("/z")),
            )
        )
    )
    for host in ["h", "x.h", "y.x.h", "other"]:
        for request in ["/", "/a", "/a/b", "/a/bc", "/a/bcd", "/z", "/z/1", "/q"]:
            fast, full = table.match(host, request), table.explain(host, request)
            assert (fast and fast.route.id) == (full and full.route.id), (host, request)


def test_explain_single_candidate_says_only_match() -> None:
    table, _ = build(web_world(ingress("a", rule("h", path("/")), rule(None, path("/static/long", IMPL)))))
    found = table.explain("h", "/static/long/x")
    assert found is not None
    assert found.reason == (
        "exact host h, Prefix / is the only matching path; "
        "a rule for the host beats the rule without host (ImplementationSpecific /static/long)"
    )
