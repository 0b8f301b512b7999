"""Ingress class selection: which Ingresses this controller routes."""

from __future__ import annotations

import pytest

from ingressctl.model import Severity
from tests.routing.builders import build, ingress, ingress_class, path, rule, web_world

OURS = "ingressctl.io/ingress-controller"


def served(*classes: object, **kw: object) -> tuple[bool, list[str]]:
    options = kw.pop("options", {})
    snapshot = web_world(ingress("app", rule("h", path("/")), **kw), ingress_classes=tuple(classes))  # type: ignore[arg-type]
    table, diagnostics = build(snapshot, **options)  # type: ignore[arg-type]
    return table.match("h", "/") is not None, [d.code for d in diagnostics]


def test_class_name_of_ingressclass_with_our_controller() -> None:
    assert served(ingress_class("public", OURS), class_name="public") == (True, [])


def test_class_name_of_ingressclass_with_other_controller() -> None:
    ok, found = served(ingress_class("nginx", "k8s.io/ingress-nginx"), class_name="nginx")
    assert (ok, found) == (False, ["IC214"])


def test_class_name_equal_to_our_class_or_extra_classes_without_ingressclass_object() -> None:
    assert served(class_name="ingressctl")[0]
    assert served(class_name="traefik")[0]
    assert not served(class_name="nginx")[0]
    assert served(class_name="custom", options={"ingress_class": "custom"})[0]
    assert not served(class_name="traefik", options={"extra_classes": ()})[0]


def test_controller_name_option() -> None:
    klass = ingress_class("edge", "example.com/edge")
    assert not served(klass, class_name="edge")[0]
    assert served(klass, class_name="edge", options={"controller_name": "example.com/edge"})[0]


@pytest.mark.parametrize(("value", "expected"), [("ingressctl", True), ("traefik", True), ("nginx", False)])
def test_legacy_class_annotation(value: str, expected: bool) -> None:
    ok, found = served(annotations={"kubernetes.io/ingress.class": value})
    assert ok is expected
    assert found == ([] if expected else ["IC214"])


def test_annotation_wins_over_class_name() -> None:
    assert not served(class_name="ingressctl", annotations={"kubernetes.io/ingress.class": "nginx"})[0]


def test_classless_served_by_default_and_not_when_disabled() -> None:
    assert served() == (True, [])
    ok, found = served(options={"serve_unclassed": False})
    assert (ok, found) == (False, ["IC214"])


def test_classless_served_when_our_ingressclass_is_default() -> None:
    assert served(ingress_class("ours", OURS, default=True), options={"serve_unclassed": False})[0]
    other_default = ingress_class("nginx", "k8s.io/ingress-nginx", default=True)
    assert not served(other_default, options={"serve_unclassed": False})[0]


def test_other_class_finding_is_info_and_names_the_ingress() -> None:
    snapshot = web_world(ingress("app", rule("h", path("/")), class_name="nginx"))
    table, diagnostics = build(snapshot)
    assert table.routes == ()
    [d] = diagnostics
    assert d.severity is Severity.INFO
    assert d.message.startswith("Ingress default/app: ingressClassName 'nginx' is not ours")
    assert d.hint


def test_class_annotation_may_name_an_ingressclass_of_ours() -> None:
    klass = ingress_class("public", OURS)
    assert served(klass, annotations={"kubernetes.io/ingress.class": "public"})[0]
    assert not served(annotations={"kubernetes.io/ingress.class": "public"})[0]
