"""router.pathmatcher PathRegexp (Traefik v3) and the 1.7 rule-type spelling: regex paths beside a
host's other paths, ranked by priority then length, matched by the index as by explain."""

from __future__ import annotations

import pytest

from ingressctl.model import Location, PathType, Severity
from ingressctl.routing.table import RoutingTable
from tests.routing.builders import EXACT, IMPL, PREFIX, build, ingress, loc, path, rule, web_world

T = "traefik.ingress.kubernetes.io/"


def table_of(regex_paths: tuple[str, ...], priority: str | None = None) -> RoutingTable:
    annotations = {T + "router.pathmatcher": "PathRegexp"}
    if priority is not None:
        annotations[T + "router.priority"] = priority
    regexes = ingress("rx", rule("a.test", *(path(p, IMPL) for p in regex_paths)), annotations=annotations)
    plain = ingress(
        "plain", rule("a.test", path("/", PREFIX), path("/api", PREFIX), path("/api/v1/x", EXACT))
    )
    table, diagnostics = build(web_world(regexes, plain))
    assert diagnostics == []
    return table


def winner(table: RoutingTable, request: str) -> str:
    found = table.match("a.test", request)
    assert found is not None
    explained = table.explain("a.test", request)
    assert explained is not None and explained.route.id == found.route.id  # index and reference agree
    return f"{found.route.path_type.value if found.route.regex is None else 'PathRegexp'} {found.route.path}"


def test_regex_paths_rank_beside_the_other_paths() -> None:
    table = table_of((r"/api/v[0-9]+/users$", r"/static/.*\.css"))
    assert winner(table, "/api/v2/users") == r"PathRegexp /api/v[0-9]+/users$"
    assert winner(table, "/api/v2/users/7") == "Prefix /api"  # `$` anchors
    assert winner(table, "/api/V2/users") == "Prefix /api"  # case-sensitive, as Go's regexp
    assert winner(table, "/x/static/a.css") == r"PathRegexp /static/.*\.css"  # searched, not anchored
    assert winner(table, "/api/v1/x") == "Exact /api/v1/x"
    assert winner(table, "/other") == "Prefix /"


def test_a_longer_plain_path_beats_a_shorter_regex_and_priority_beats_length() -> None:
    table = table_of(("/a.",))
    assert winner(table, "/api/v1") == "Prefix /api"  # 4 chars beat the 3 of "/a."
    assert winner(table, "/abc") == "PathRegexp /a."  # longer than "/"
    longer = table_of(("/a.*/v",))
    assert winner(longer, "/api/v1") == "PathRegexp /a.*/v"
    high = table_of(("/a.",), priority="10")
    assert winner(high, "/api/v1/x") == "PathRegexp /a."


def test_the_routes_view_and_the_explain_reason_name_the_regex() -> None:
    table = table_of((r"/api/v[0-9]+",))
    explained = table.explain("a.test", "/api/v3")
    assert explained is not None
    assert "PathRegexp /api/v[0-9]+ matches the path" in explained.reason
    assert [r.path for r in explained.shadowed] == ["/api", "/"]


def test_a_pattern_re2_refuses_is_an_error_at_the_annotation_and_not_routed() -> None:
    subject = ingress(
        "rx",
        rule("a.test", path(r"/(a)\1", IMPL), path("/fine", IMPL), path("/typed", PREFIX)),
        annotations={T + "router.pathmatcher": "PathRegexp"},
    )
    subject.meta.annotation_locations[T + "router.pathmatcher"] = loc(7)
    table, diagnostics = build(web_world(subject))
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert len(errors) == 1 and "is not routed" in errors[0].message
    assert errors[0].location == Location("app.yaml", 7, 1)
    routes = {r.path: r for r in table.routes}
    assert set(routes) == {"/fine", "/typed"}
    assert routes["/fine"].regex is not None and routes["/typed"].regex is None  # typed paths stay


@pytest.mark.parametrize("key", [T + "rule-type", "traefik.frontend.rule.type"])
def test_rule_type_in_both_spellings(key: str) -> None:
    subject = ingress("app", rule("a.test", path("/api", IMPL)), annotations={key: "PathPrefixStrip"})
    table, diagnostics = build(web_world(subject))
    assert diagnostics == []
    (route,) = table.routes
    assert route.path_type is PathType.PREFIX and route.strip_prefix


def test_rule_type_17_spelling_with_a_bad_value_is_a_finding_at_its_key() -> None:
    subject = ingress("app", rule("a.test", path("/api", IMPL)), annotations={T + "rule-type": "PathRegexp"})
    subject.meta.annotation_locations[T + "rule-type"] = loc(4)
    _, diagnostics = build(web_world(subject))
    assert [(d.severity, d.location) for d in diagnostics] == [(Severity.WARNING, Location("app.yaml", 4, 1))]
    assert T + "rule-type" in diagnostics[0].message
