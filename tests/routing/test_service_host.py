"""service.passhostheader on the Service (Traefik v2/v3) and preserve-host on the Ingress (1.7):
one setting, the Service's value winning for the routes to it."""

from __future__ import annotations

import dataclasses

from ingressctl.model import Location, Service
from ingressctl.routing.chain import chain_descriptions
from tests.routing.builders import PREFIX, build, endpoint_slice, ep, ingress, path, rule, service, web_world

T = "traefik.ingress.kubernetes.io/"
OWN_HOST = ["Host: the backend's address"]


def annotated(svc: Service, **pairs: str) -> Service:
    meta = dataclasses.replace(
        svc.meta, annotations=pairs, annotation_locations={k: Location("svc.yaml", 6, 5) for k in pairs}
    )
    return dataclasses.replace(svc, meta=meta)


def host_headers(
    ingress_annotations: dict[str, str], service_value: str | None
) -> tuple[object, object, list[str]]:
    """(request headers of the route to Service `other`, of the route to `web`, finding messages)."""
    other = service("other")
    if service_value is not None:
        other = annotated(other, **{T + "service.passhostheader": service_value})
    subject = ingress(
        "app",
        rule("a.test", path("/o", PREFIX, service="other"), path("/w", PREFIX)),
        annotations=ingress_annotations,
    )
    snapshot = web_world(
        subject, services=(other,), endpoint_slices=(endpoint_slice("other", ep("10.0.0.2")),)
    )
    table, diagnostics = build(snapshot)
    routes = {r.path: r for r in table.routes}

    def headers(route_path: str) -> object:
        found = [d for d in chain_descriptions(routes[route_path]) if d["name"] == "request-headers"]
        return found[0]["headers"] if found else None

    return headers("/o"), headers("/w"), [f"{d.location}: {d.message}" for d in diagnostics]


def test_the_service_annotation_sets_it_for_the_routes_to_that_service_only() -> None:
    assert host_headers({}, "false") == (OWN_HOST, None, [])


def test_the_service_wins_over_the_ingress_preserve_host() -> None:
    assert host_headers({T + "preserve-host": "false"}, "true") == (None, OWN_HOST, [])


def test_a_bad_service_value_is_a_warning_at_its_line_and_ignored() -> None:
    to_other, to_web, messages = host_headers({T + "preserve-host": "false"}, "nope")
    assert (to_other, to_web) == (OWN_HOST, OWN_HOST)  # the Ingress's preserve-host stays
    assert len(messages) == 1 and "Service default/other" in messages[0] and "is not a boolean" in messages[0]
    assert messages[0].startswith(str(Location("svc.yaml", 6, 5)))
