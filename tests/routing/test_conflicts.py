"""Identical (host, path, type) claimed twice: a deterministic winner and a Diagnostic on the loser."""

from __future__ import annotations

from ingressctl.model import Severity
from tests.routing.builders import (
    EXACT,
    IMPLEMENTATION_SPECIFIC,
    backend,
    build,
    codes_of,
    ingress,
    loc,
    path,
    route_id,
    rule,
    web_world,
)


def test_oldest_creation_timestamp_wins() -> None:
    snapshot = web_world(
        ingress("aaa", rule("h", path("/api", location=loc(10, "a.yaml"))), ts="2024-05-02T00:00:00Z"),
        ingress("zzz", rule("h", path("/api", location=loc(20, "z.yaml"))), ts="2024-05-01T00:00:00Z"),
    )
    table, diagnostics = build(snapshot)
    assert route_id(table, "h", "/api") == "default/zzz#r0p0"
    assert [r.id for r in table.routes] == ["default/zzz#r0p0"]
    [conflict] = [d for d in diagnostics if d.code == "IC201"]
    # One of the two is never routed: an error, as ingress-nginx's admission webhook refuses it.
    assert conflict.severity is Severity.ERROR
    assert conflict.message.startswith("Ingress default/aaa:")
    assert "across namespaces" not in conflict.message
    assert "also claimed by Ingress default/zzz (z.yaml:20:1)" in conflict.message
    assert "Ingress default/zzz wins (created earlier: 2024-05-01T00:00:00Z vs 2024-05-02T00:00:00Z)" in (
        conflict.message
    )
    assert conflict.location == loc(10, "a.yaml")
    assert conflict.related == (loc(20, "z.yaml"),)
    assert conflict.hint


def test_same_timestamp_then_namespace_and_name_decide() -> None:
    ts = "2024-05-01T00:00:00Z"
    snapshot = web_world(
        ingress("b", rule("h", path("/")), ts=ts),
        ingress("a", rule("h", path("/")), ts=ts, ns="zeta"),
        ingress("a", rule("h", path("/")), ts=ts),
    )
    table, diagnostics = build(snapshot)
    assert route_id(table, "h", "/") == "default/a#r0p0"
    losers = sorted(
        d.object.name + "@" + d.object.namespace for d in diagnostics if d.code == "IC201" and d.object
    )
    assert losers == ["a@zeta", "b@default"]
    assert all("namespace/name sorts first" in d.message for d in diagnostics if d.code == "IC201")
    [foreign] = [d for d in diagnostics if d.code == "IC201" and d.object and d.object.namespace == "zeta"]
    assert (
        "across namespaces (default and zeta) this is how one team can take another team's traffic"
        in foreign.message
    )
    assert "which namespace owns the host" in foreign.hint


def test_missing_timestamp_counts_as_newest() -> None:
    snapshot = web_world(
        ingress("a", rule("h", path("/"))),
        ingress("b", rule("h", path("/")), ts="2024-01-01T00:00:00Z"),
    )
    table, _ = build(snapshot)
    assert route_id(table, "h", "/") == "default/b#r0p0"


def test_prefix_with_and_without_trailing_slash_conflict() -> None:
    table, diagnostics = build(web_world(ingress("a", rule("h", path("/foo"), path("/foo/")))))
    assert [r.id for r in table.routes] == ["default/a#r0p0"]
    [conflict] = [d for d in diagnostics if d.code == "IC201"]
    assert "comes first in the same Ingress" in conflict.message


def test_different_types_or_hosts_do_not_conflict() -> None:
    _, diagnostics = build(
        web_world(
            ingress("a", rule("h", path("/foo"), path("/foo", EXACT)), rule("g", path("/foo"))),
            ingress("b", rule(None, path("/foo")), rule("*.h", path("/foo"))),
        )
    )
    assert "IC201" not in codes_of(diagnostics)


def test_compile_is_deterministic_whatever_the_input_order() -> None:
    one = ingress("one", rule("h", path("/")), default=backend())
    two = ingress("two", rule("h", path("/")), default=backend())
    first = build(web_world(one, two))
    second = build(web_world(two, one))
    assert [r.id for r in first[0].routes] == [r.id for r in second[0].routes]
    assert first[1] == second[1]


def test_duplicate_default_backend_oldest_wins() -> None:
    snapshot = web_world(
        ingress("new", default=backend("web", 80), ts="2024-06-01T00:00:00Z", location=loc(1, "new.yaml")),
        ingress("old", default=backend("web", 80), ts="2024-01-01T00:00:00Z", location=loc(1, "old.yaml")),
    )
    table, diagnostics = build(snapshot)
    assert table.default_route is not None
    assert table.default_route.id == "default/old#default"
    [dup] = [d for d in diagnostics if d.code == "IC202"]
    assert dup.message.startswith("Ingress default/new:")
    assert "Ingress default/old wins" in dup.message
    assert dup.related == (loc(1, "old.yaml"),)


def test_implementation_specific_duplicates_stay_a_warning() -> None:
    """Only Exact and Prefix have a meaning the API defines; ImplementationSpecific is the
    controller's, so a duplicate there is a warning (still explained)."""
    snapshot = web_world(
        ingress("a", rule("h", path("/x", IMPLEMENTATION_SPECIFIC))),
        ingress("b", rule("h", path("/x", IMPLEMENTATION_SPECIFIC))),
    )
    _, diagnostics = build(snapshot)
    [conflict] = [d for d in diagnostics if d.code == "IC201"]
    assert conflict.severity is Severity.WARNING and "Ingress default/a wins" in conflict.message
