"""Backends: Service → port → EndpointSlice/Endpoints → upstreams; unservable routes answer 503."""

from __future__ import annotations

import pytest

from ingressctl.model import (
    BackendProblem,
    EndpointPort,
    Route,
    Service,
    ServicePort,
    Severity,
    Snapshot,
    Upstream,
)
from tests.routing.builders import (
    backend,
    build,
    codes_of,
    endpoint_slice,
    ep,
    ingress,
    legacy_endpoints,
    loc,
    path,
    rule,
    service,
)


def only_route(snapshot: Snapshot, **options: object) -> tuple[Route, list[str], list[str]]:
    table, diagnostics = build(snapshot, **options)
    assert len(table.routes) == 1
    return table.routes[0], codes_of(diagnostics), [d.message for d in diagnostics]


def one_ingress(port: int | str = 80, svc: str = "web") -> tuple:  # type: ignore[type-arg]
    return (ingress("app", rule("h", path("/", service=svc, port=port, location=loc(7)))),)


def test_ready_endpoints_become_upstreams_on_target_port() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.2", ready=True), ep("10.0.0.1")),),
    )
    route, found, _ = only_route(snapshot)
    assert route.backend.problem is None
    assert route.backend.upstreams == (Upstream("10.0.0.1", 8080), Upstream("10.0.0.2", 8080))
    assert route.backend.label == "default/web:80"
    assert found == []


def test_named_service_port_maps_to_endpoint_port_by_name() -> None:
    svc = service(ports=(ServicePort(80, "http", "web-http"), ServicePort(9000, "metrics", 9100)))
    eps = endpoint_slice(
        "web", ep("10.0.0.1"), ports=(EndpointPort(8080, "http"), EndpointPort(9100, "metrics"))
    )
    for port, expected in (("http", 8080), ("metrics", 9100), (80, 8080), (9000, 9100)):
        snapshot = Snapshot(ingresses=one_ingress(port), services=(svc,), endpoint_slices=(eps,))
        route, _, _ = only_route(snapshot)
        assert route.backend.upstreams == (Upstream("10.0.0.1", expected),), port


def test_endpoints_merge_across_slices_and_deduplicate() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoint_slices=(
            endpoint_slice("web", ep("10.0.0.1"), name="web-a"),
            endpoint_slice("web", ep("10.0.0.2"), ep("10.0.0.1"), name="web-b"),
            endpoint_slice("other", ep("10.9.9.9"), name="other-a"),
        ),
    )
    route, _, _ = only_route(snapshot)
    assert [u.host for u in route.backend.upstreams] == ["10.0.0.1", "10.0.0.2"]


def test_ready_serving_terminating_combinations() -> None:
    endpoints = (
        ep("10.0.0.1", ready=None),  # unset ready counts as ready
        ep("10.0.0.2", ready=True, serving=True, terminating=False),
        ep("10.0.0.3", ready=False, serving=True, terminating=True),  # fallback only
        ep("10.0.0.4", ready=False),  # not ready, not serving
    )
    snapshot = Snapshot(
        ingresses=one_ingress(), services=(service(),), endpoint_slices=(endpoint_slice("web", *endpoints),)
    )
    route, found, _ = only_route(snapshot)
    assert [u.host for u in route.backend.upstreams] == ["10.0.0.1", "10.0.0.2"]
    assert not any(u.fallback for u in route.backend.upstreams)
    assert found == []


def test_terminating_serving_endpoints_are_a_fallback_when_none_ready() -> None:
    endpoints = (
        ep("10.0.0.3", ready=False, serving=True, terminating=True),
        ep("10.0.0.4", ready=False, serving=None, terminating=True),  # serving follows ready: False
        ep("10.0.0.5", ready=False, serving=True, terminating=False),  # serving but not terminating
    )
    snapshot = Snapshot(
        ingresses=one_ingress(), services=(service(),), endpoint_slices=(endpoint_slice("web", *endpoints),)
    )
    route, found, messages = only_route(snapshot)
    assert route.backend.problem is None
    assert route.backend.upstreams == (Upstream("10.0.0.3", 8080, fallback=True),)
    assert found == ["IC208"]
    assert "1 terminating endpoint(s)" in messages[0]


def test_no_usable_endpoint_is_503_with_diagnostic() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.4", ready=False, terminating=True)),),
    )
    route, found, messages = only_route(snapshot)
    assert route.backend.problem is BackendProblem.NO_READY_ENDPOINTS
    assert route.backend.upstreams == ()
    assert found == ["IC207"]
    assert messages[0].startswith("Ingress default/app: none of the 1 endpoint(s) of default/web is ready")


def test_empty_slice_is_no_ready_endpoints() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(), services=(service(),), endpoint_slices=(endpoint_slice("web"),)
    )
    route, found, _ = only_route(snapshot)
    assert route.backend.problem is BackendProblem.NO_READY_ENDPOINTS
    assert found == ["IC207"]


def test_no_endpoint_objects_at_all() -> None:
    route, found, _ = only_route(Snapshot(ingresses=one_ingress(), services=(service(),)))
    assert route.backend.problem is BackendProblem.NO_ENDPOINTS
    assert found == ["IC206"]


def test_no_endpoints_is_info_unless_the_input_is_complete() -> None:
    """Manifest repositories hold no EndpointSlices: info, whatever other slices the input holds;
    a warning when the input is declared complete (--require-services, --kubernetes)."""
    with_other_slices = Snapshot(
        ingresses=one_ingress(svc="web"),
        services=(service(),),
        endpoint_slices=(endpoint_slice("other", ep("10.0.0.9")),),
    )
    for snapshot in (with_other_slices, Snapshot(ingresses=one_ingress(), services=(service(),))):
        _, quiet = build(snapshot)
        assert [(d.code, d.severity) for d in quiet] == [("IC206", Severity.INFO)]
        _, complete = build(snapshot, require_services=True)
        assert [(d.code, d.severity) for d in complete] == [("IC206", Severity.WARNING)]


def test_legacy_endpoints_are_used_when_no_slice_exists() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoints=(legacy_endpoints("web", ready=("10.1.0.1",), not_ready=("10.1.0.2",)),),
    )
    route, found, _ = only_route(snapshot)
    assert route.backend.upstreams == (Upstream("10.1.0.1", 8080),)
    assert found == []


def test_slices_win_over_legacy_endpoints() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),),
        endpoints=(legacy_endpoints("web", ready=("10.1.0.1",)),),
    )
    route, _, _ = only_route(snapshot)
    assert [u.host for u in route.backend.upstreams] == ["10.0.0.1"]


def test_legacy_endpoints_only_not_ready_is_503() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoints=(legacy_endpoints("web", not_ready=("10.1.0.2",)),),
    )
    route, found, _ = only_route(snapshot)
    assert route.backend.problem is BackendProblem.NO_READY_ENDPOINTS
    assert found == ["IC207"]


def test_unknown_port_number_and_name() -> None:
    for port in (81, "https"):
        snapshot = Snapshot(
            ingresses=one_ingress(port),
            services=(service(),),
            endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),),
        )
        route, found, messages = only_route(snapshot)
        assert route.backend.problem is BackendProblem.PORT_NOT_FOUND
        assert found == ["IC205"]
        assert f"Service default/web has no port {port}" in messages[0]


def test_endpoint_without_the_port_is_not_usable() -> None:
    snapshot = Snapshot(
        ingresses=one_ingress(),
        services=(service(),),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.1"), ports=(EndpointPort(9999, "other"),)),),
    )
    route, found, messages = only_route(snapshot)
    assert route.backend.problem is BackendProblem.NO_READY_ENDPOINTS
    assert found == ["IC207"]
    assert "do not carry port 80 (http)" in messages[0]


def test_missing_service_is_error_with_require_services() -> None:
    snapshot = Snapshot(ingresses=one_ingress(svc="gone"), services=(service("web"),))
    table, diagnostics = build(snapshot, require_services=True)
    [route] = table.routes
    assert route.backend.problem is BackendProblem.SERVICE_NOT_FOUND
    [d] = diagnostics
    assert (d.code, d.severity) == ("IC203", Severity.ERROR)
    assert (
        d.message == "Ingress default/app: backend Service default/gone does not exist; requests answer 503"
    )
    assert d.location == loc(7)
    assert "Create Service gone" in d.hint


@pytest.mark.parametrize("others", [(), (service("web", ns="elsewhere"),), (service("web"),)])
def test_missing_service_finding_does_not_depend_on_the_rest_of_the_input(
    others: tuple[Service, ...],
) -> None:
    """The same Ingress gets the same finding whatever else is in the input (none, other namespaces,
    other Services of its own namespace): IC204 info, or IC203 error with --require-services."""
    snapshot = Snapshot(ingresses=one_ingress(svc="gone"), services=others)
    table, diagnostics = build(snapshot)
    assert table.routes[0].backend.problem is BackendProblem.SERVICE_NOT_FOUND
    assert [(d.code, d.severity) for d in diagnostics] == [("IC204", Severity.INFO)]
    _, strict = build(snapshot, require_services=True)
    assert [(d.code, d.severity) for d in strict] == [("IC203", Severity.ERROR)]


def test_an_ingress_that_loses_a_conflict_keeps_its_backend_finding() -> None:
    """Another Ingress claiming the same host and path (created earlier: it wins) adds the conflict
    error to the later one and takes none of its other findings away."""
    later = ingress("later", rule("h", path("/", service="gone", location=loc(7))), ts="2024-02-01T00:00:00Z")
    earlier = ingress("earlier", rule("h", path("/")), ts="2024-01-01T00:00:00Z")
    _, alone = build(Snapshot(ingresses=(later,)))
    table, together = build(Snapshot(ingresses=(later, earlier), services=(service(),)))
    assert [r.source.name for r in table.routes] == ["earlier"]
    about_later = [
        (d.code, d.severity) for d in together if d.object is not None and d.object.name == "later"
    ]
    assert [(d.code, d.severity) for d in alone] == [("IC204", Severity.INFO)]
    assert sorted(about_later) == [("IC201", Severity.ERROR), ("IC204", Severity.INFO)]


def test_missing_service_reported_once_per_ingress() -> None:
    snapshot = Snapshot(
        ingresses=(ingress("app", rule("h", path("/a", service="gone"), path("/b", service="gone"))),),
        services=(service(),),
    )
    table, diagnostics = build(snapshot, require_services=True)
    assert len(table.routes) == 2
    assert all(r.backend.problem is BackendProblem.SERVICE_NOT_FOUND for r in table.routes)
    assert codes_of(diagnostics) == ["IC203"]


def test_external_name_refused_by_default() -> None:
    svc = service("ext", type="ExternalName", external_name="api.example.net", ports=())
    route, found, messages = only_route(Snapshot(ingresses=one_ingress(443, "ext"), services=(svc,)))
    assert route.backend.problem is BackendProblem.EXTERNAL_NAME_NOT_ALLOWED
    assert route.backend.upstreams == ()
    assert found == ["IC209"]
    assert "ExternalName (api.example.net)" in messages[0]


def test_external_name_allowed_uses_name_and_ingress_port() -> None:
    svc = service(
        "ext", type="ExternalName", external_name="api.example.net", ports=(ServicePort(8443, "tls"),)
    )
    snapshot = Snapshot(ingresses=one_ingress(443, "ext"), services=(svc,))
    route, found, _ = only_route(snapshot, allow_external_name_services=True)
    assert route.backend.upstreams == (Upstream("api.example.net", 443),)
    assert found == []
    named, _, _ = only_route(
        Snapshot(ingresses=one_ingress("tls", "ext"), services=(svc,)), allow_external_name_services=True
    )
    assert named.backend.upstreams == (Upstream("api.example.net", 8443),)


def test_resource_backend_is_503() -> None:
    from ingressctl.model import IngressBackend, IngressPath

    resource = IngressBackend(resource_kind="StorageBucket", resource_name="static")
    snapshot = Snapshot(ingresses=(ingress("app", rule("h", IngressPath("/", None, resource))),))
    route, found, _ = only_route(snapshot)
    assert route.backend.problem is BackendProblem.RESOURCE_BACKEND
    assert found == ["IC215"]


def test_backend_without_service_is_503() -> None:
    from ingressctl.model import IngressBackend, IngressPath

    snapshot = Snapshot(ingresses=(ingress("app", rule("h", IngressPath("/", None, IngressBackend()))),))
    route, found, _ = only_route(snapshot)
    assert route.backend.problem is BackendProblem.SERVICE_NOT_FOUND
    assert found == ["IC218"]


def test_default_backend_is_resolved_like_a_path() -> None:
    snapshot = Snapshot(ingresses=(ingress("app", default=backend("gone", 80)),), services=(service(),))
    table, diagnostics = build(snapshot, require_services=True)
    assert table.routes == ()
    assert table.default_route is not None
    assert table.default_route.backend.problem is BackendProblem.SERVICE_NOT_FOUND
    assert table.match("any", "/") is not None
    assert codes_of(diagnostics) == ["IC203"]


def test_one_broken_ingress_does_not_affect_another() -> None:
    snapshot = Snapshot(
        ingresses=(
            ingress("bad", rule("bad.test", path("/", service="gone"))),
            ingress("good", rule("good.test", path("/"))),
        ),
        services=(service(),),
        endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),),
    )
    table, _ = build(snapshot)
    good = table.match("good.test", "/")
    bad = table.match("bad.test", "/")
    assert good is not None and good.route.backend.problem is None
    assert bad is not None and bad.route.backend.problem is BackendProblem.SERVICE_NOT_FOUND
