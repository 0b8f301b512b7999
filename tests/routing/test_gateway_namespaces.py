"""allowedRoutes `namespaces.from: Selector`: any label selector (matchLabels; matchExpressions In,
NotIn, Exists, DoesNotExist) judged on the labels of the route's Namespace; an unknown Namespace is
not attached (fail closed) unless the selector reads only the name label every Namespace carries.
Reference: kubernetes-sigs/gateway-api conformance/tests/gateway-with-attached-routes (Selector) and
the API's AllowedRoutes documentation (NotAllowedByListeners)."""

from __future__ import annotations

import pytest

from ingressctl.model.objects import ObjectRef
from tests.routing.gateway_builders import CLASS
from tests.routing.test_gateway_status import cond, gateway, report, route


def namespace(name: str, labels: str = "{}") -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {labels}}}\n"


def selecting(selector: str) -> str:
    return gateway(
        f"""  - name: web
    port: 8080
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {selector}
"""
    )


ROUTE = route("r", "  parentRefs: [{name: gw, namespace: infra}]\n", namespace="shop")


def accepted(text: str) -> tuple[str, str, int]:
    rep = report(text)
    return cond(rep.http_routes[ObjectRef("HTTPRoute", "shop", "r")].parents[0].conditions, "Accepted")


@pytest.mark.parametrize(
    ("selector", "labels", "attached"),
    [
        ("{matchLabels: {env: prod}}", "{env: prod}", True),
        ("{matchLabels: {env: prod}}", "{env: dev}", False),
        ("{matchExpressions: [{key: env, operator: In, values: [prod, stage]}]}", "{env: stage}", True),
        ("{matchExpressions: [{key: env, operator: In, values: [prod]}]}", "{}", False),
        ("{matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}", "{env: prod}", True),
        ("{matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}", "{env: dev}", False),
        ("{matchExpressions: [{key: gateway, operator: Exists}]}", "{gateway: ''}", True),
        ("{matchExpressions: [{key: gateway, operator: Exists}]}", "{}", False),
        ("{matchExpressions: [{key: private, operator: DoesNotExist}]}", "{}", True),
        ("{matchExpressions: [{key: private, operator: DoesNotExist}]}", "{private: 'y'}", False),
        # The API server's label, present on every Namespace (also one read from a file).
        ("{matchLabels: {kubernetes.io/metadata.name: shop}, matchExpressions: []}", "{}", True),
        (
            "{matchLabels: {env: prod}, matchExpressions: [{key: tier, operator: NotIn, values: [db]}]}",
            "{env: prod, tier: db}",
            False,
        ),
    ],
)
def test_the_labels_of_the_routes_namespace_decide(selector: str, labels: str, attached: bool) -> None:
    status, reason, generation = accepted(
        "---\n".join([CLASS, selecting(selector), ROUTE, namespace("shop", labels)])
    )
    assert (status, reason) == (("True", "Accepted") if attached else ("False", "NotAllowedByListeners"))
    assert generation == 7


def test_an_unknown_namespace_is_not_attached_even_by_a_selector_that_refuses_nothing() -> None:
    text = "---\n".join(
        [CLASS, selecting("{matchExpressions: [{key: private, operator: DoesNotExist}]}"), ROUTE]
    )
    rep = report(text)
    (parent,) = rep.http_routes[ObjectRef("HTTPRoute", "shop", "r")].parents
    found = next(c for c in parent.conditions if c.type == "Accepted")
    assert (found.status.value, found.reason) == ("False", "NotAllowedByListeners")
    assert "Namespace shop is unknown" in found.message


def test_a_selector_on_the_name_label_alone_needs_no_namespace_object() -> None:
    # What `migrate --to gateway-api` writes; the API server sets this label from the name.
    selector = "{matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [shop]}]}"
    assert accepted("---\n".join([CLASS, selecting(selector), ROUTE]))[:2] == ("True", "Accepted")
    other = selector.replace("[shop]", "[web]")
    assert accepted("---\n".join([CLASS, selecting(other), ROUTE]))[:2] == ("False", "NotAllowedByListeners")
