"""Rules the compiler cannot use are skipped with a Diagnostic that names the Ingress and the fix."""

from __future__ import annotations

import pytest

from ingressctl.model import IngressRule, Severity
from tests.routing.builders import build, codes_of, ingress, loc, path, route_id, rule, web_world


@pytest.mark.parametrize("host", ["*", "10.0.0.1", "bad_host.example.com", "a.*.example.com", "example.com."])
def test_invalid_rule_host_skips_the_rule_only(host: str) -> None:
    bad = IngressRule(host, (path("/"),), host_location=loc(9))
    table, diagnostics = build(web_world(ingress("app", bad, rule("ok.example.com", path("/")))))
    assert [r.host for r in table.routes] == ["ok.example.com"]
    [d] = diagnostics
    assert (d.code, d.severity) == ("IC216", Severity.ERROR)
    assert d.message.startswith("Ingress default/app: rule 0 host: ")
    assert "the rule is skipped" in d.message
    assert d.location == loc(9)
    assert d.hint


def test_path_without_leading_slash_is_skipped() -> None:
    table, diagnostics = build(
        web_world(ingress("app", rule("h", path("api", location=loc(12)), path("/ok"))))
    )
    assert [r.path for r in table.routes] == ["/ok"]
    assert codes_of(diagnostics) == ["IC217"]
    assert diagnostics[0].location == loc(12)
    assert "'/api'" in diagnostics[0].hint
    assert route_id(table, "h", "/ok") == "default/app#r0p1"


def test_empty_host_is_hostless() -> None:
    table, diagnostics = build(web_world(ingress("app", rule("", path("/")))))
    assert diagnostics == []
    assert table.routes[0].host is None
    assert route_id(table, "anything.test", "/") == "default/app#r0p0"


def test_every_diagnostic_names_its_ingress_and_has_a_hint() -> None:
    snapshot = web_world(
        ingress(
            "messy",
            rule("*", path("/")),
            rule("h", path("x"), path("/a", service="gone"), path("/b", port=99)),
            annotations={"traefik.frontend.priority": "x", "ingress.kubernetes.io/auth-type": "basic"},
            class_name=None,
        ),
        ingress("other", rule("h", path("/")), class_name="nginx"),
    )
    _, diagnostics = build(snapshot, require_services=True)
    assert sorted(set(codes_of(diagnostics))) == [
        "IC203",
        "IC205",
        "IC212",
        "IC213",
        "IC214",
        "IC216",
        "IC217",
    ]
    for d in diagnostics:
        assert d.message.startswith(("Ingress default/messy: ", "Ingress default/other: ")), d
        assert d.hint, d
        assert d.object is not None and d.object.kind == "Ingress"


@pytest.mark.parametrize("enabled", [True, False])
def test_compile_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    """Compiling pauses the cyclic collector (it walked the whole snapshot again and again) and
    restores it, also when it was off (the one-shot CLI turns it off)."""
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        table, _ = build(web_world(ingress("app", rule("a.test", path("/")))))
        assert gc.isenabled() is enabled
        assert route_id(table, "a.test", "/") == "default/app#r0p0"
    finally:
        gc.enable() if was else gc.disable()
