"""The status ingressctl computes for Gateway API objects (ingressctl.gateway.status), as the
conformance suite's status checks expect them (kubernetes-sigs/gateway-api conformance/tests, cited
per test). Pure: compile a Snapshot, read RoutingTable.gateway_status."""

from __future__ import annotations

from ingressctl.model.gateway import Condition, GatewayStatusReport, ListenerStatus
from ingressctl.model.objects import ObjectRef
from ingressctl.routing import compile
from ingressctl.routing.options import CompileOptions
from tests.routing.gateway_builders import CLASS, GROUP, service, snapshot

WEB = (("web", 8080, False), ("websecure", 8443, True))


def report(
    text: str, entrypoints: tuple[tuple[str, int, bool], ...] = WEB, **options: str
) -> GatewayStatusReport:
    table, _ = compile(
        snapshot(text),
        CompileOptions(gateway=True, entrypoint_ports=entrypoints, **options),  # type: ignore[arg-type]
    )
    return table.gateway_status


def gateway(listeners: str, name: str = "gw", namespace: str = "infra", extra: str = "") -> str:
    return f"""apiVersion: {GROUP}
kind: Gateway
metadata: {{name: {name}, namespace: {namespace}, generation: 3}}
spec:
  gatewayClassName: ingressctl
  listeners:
{listeners}{extra}"""


def route(name: str, spec: str, namespace: str = "infra") -> str:
    return f"""apiVersion: {GROUP}
kind: HTTPRoute
metadata: {{name: {name}, namespace: {namespace}, generation: 7}}
spec:
{spec}"""


def cond(conditions: tuple[Condition, ...], kind: str) -> tuple[str, str, int]:
    found = next(c for c in conditions if c.type == kind)
    return (found.status.value, found.reason, found.observed_generation)


def listener(rep: GatewayStatusReport, name: str, gw: str = "gw", ns: str = "infra") -> ListenerStatus:
    return next(item for item in rep.gateways[ObjectRef("Gateway", ns, gw)].listeners if item.name == name)


def parent_conditions(
    rep: GatewayStatusReport, name: str, ns: str = "infra", index: int = 0
) -> tuple[Condition, ...]:
    return rep.http_routes[ObjectRef("HTTPRoute", ns, name)].parents[index].conditions


HTTP = "  - {name: http, port: 8080, protocol: HTTP}\n"


def test_gateway_class_of_ours_is_accepted_and_others_are_left_alone() -> None:
    """conformance/tests/gatewayclass-observed-generation-bump.go: Accepted with observedGeneration."""
    other = (
        f"apiVersion: {GROUP}\nkind: GatewayClass\nmetadata: {{name: other}}\n"
        "spec: {controllerName: example.com/x}\n"
    )
    rep = report(CLASS + "---\n" + other)
    assert cond(rep.gateway_classes[ObjectRef("GatewayClass", "", "ingressctl")].conditions, "Accepted") == (
        "True",
        "Accepted",
        2,
    )
    assert ObjectRef("GatewayClass", "", "other") not in rep.gateway_classes


def test_gateway_class_filter_limits_to_one_class() -> None:
    rep = report(CLASS, gateway_class="another")
    assert rep.gateway_classes == {}


def test_attached_routes_count_accepted_routes_per_listener() -> None:
    """conformance/tests/gateway-with-attached-routes.go: attachedRoutes counts the routes attached."""
    listeners = HTTP + "  - {name: other, port: 8080, protocol: HTTP, hostname: other.test}\n"
    text = "---\n".join(
        [
            CLASS,
            gateway(listeners),
            route("one", "  parentRefs: [{name: gw, sectionName: http}]\n"),
            route("two", "  parentRefs: [{name: gw}]\n  hostnames: [a.test]\n"),
            route("elsewhere", "  parentRefs: [{name: gw, namespace: infra}]\n", namespace="apps"),
        ]
    )
    rep = report(text)
    assert listener(rep, "http").attached_routes == 2
    assert listener(rep, "other").attached_routes == 0  # a.test does not intersect other.test
    assert cond(rep.gateways[ObjectRef("Gateway", "infra", "gw")].conditions, "Programmed") == (
        "True",
        "Programmed",
        3,
    )
    assert cond(parent_conditions(rep, "elsewhere", "apps"), "Accepted") == (
        "False",
        "NotAllowedByListeners",
        7,
    )


def test_listener_without_entrypoint_is_not_programmed() -> None:
    """The issue: a listener whose port has no entrypoint gets Programmed False, saying so."""
    rep = report(CLASS + "---\n" + gateway("  - {name: http, port: 9999, protocol: HTTP}\n"))
    status = listener(rep, "http")
    assert cond(status.conditions, "Programmed")[:2] == ("False", "Invalid")
    programmed = next(c for c in status.conditions if c.type == "Programmed")
    assert "no entrypoint listens on port 9999" in programmed.message
    assert cond(status.conditions, "Accepted")[:2] == ("False", "PortUnavailable")
    gw = rep.gateways[ObjectRef("Gateway", "infra", "gw")]
    assert cond(gw.conditions, "Programmed")[:2] == ("False", "Invalid")


def test_unsupported_protocol_and_route_kinds() -> None:
    """conformance/tests/gateway-invalid-route-kind.go and gateway-unsupported-protocol (TCP)."""
    listeners = (
        "  - {name: tcp, port: 8080, protocol: TCP}\n"
        "  - name: foo\n    port: 8080\n    protocol: HTTP\n    hostname: foo.test\n"
        "    allowedRoutes: {kinds: [{kind: FooRoute}]}\n"
    )
    rep = report(CLASS + "---\n" + gateway(listeners))
    assert cond(listener(rep, "tcp").conditions, "Accepted")[:2] == ("False", "UnsupportedProtocol")
    foo = listener(rep, "foo")
    assert cond(foo.conditions, "ResolvedRefs")[:2] == ("False", "InvalidRouteKinds")
    assert foo.supported_kinds == ()


def test_listeners_sharing_port_and_hostname_conflict() -> None:
    listeners = HTTP + "  - {name: again, port: 8080, protocol: HTTP}\n"
    rep = report(CLASS + "---\n" + gateway(listeners))
    assert cond(listener(rep, "again").conditions, "Conflicted")[:2] == ("True", "HostnameConflict")
    assert cond(listener(rep, "again").conditions, "Programmed")[:2] == ("False", "Invalid")


def https(ref: str) -> str:
    return (
        "  - name: https\n    port: 8443\n    protocol: HTTPS\n    hostname: secure.test\n"
        f"    tls: {{certificateRefs: [{ref}]}}\n"
    )


CERT = """apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: certs}
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----\\n"
"""

GRANT = f"""apiVersion: {GROUP.replace("v1", "v1beta1")}
kind: ReferenceGrant
metadata: {{name: allow-infra, namespace: certs}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}}]
  to: [{{group: "", kind: Secret, name: cert}}]
"""


def test_certificate_refs() -> None:
    """conformance/tests/gateway-secret-missing-referenced-secret.go,
    gateway-secret-missing-reference-grant.go, gateway-secret-reference-grant-specific.go."""
    missing = report(CLASS + "---\n" + gateway(https("{name: nope}")))
    assert cond(listener(missing, "https").conditions, "ResolvedRefs")[:2] == (
        "False",
        "InvalidCertificateRef",
    )
    no_grant = report("---\n".join([CLASS, CERT, gateway(https("{name: cert, namespace: certs}"))]))
    assert cond(listener(no_grant, "https").conditions, "ResolvedRefs")[:2] == ("False", "RefNotPermitted")
    granted = "---\n".join([CLASS, CERT, GRANT, gateway(https("{name: cert, namespace: certs}"))])
    rep = report(granted)
    assert cond(listener(rep, "https").conditions, "ResolvedRefs")[:2] == ("True", "ResolvedRefs")
    assert cond(listener(rep, "https").conditions, "Programmed")[:2] == ("True", "Programmed")
    table, _ = compile(snapshot(granted), CompileOptions(gateway=True, entrypoint_ports=WEB))
    assert [c.secret for c in table.certificates] == [ObjectRef("Secret", "certs", "cert")]


def test_https_listener_on_a_plain_entrypoint_is_not_programmed() -> None:
    granted = "---\n".join([CLASS, CERT, GRANT, gateway(https("{name: cert, namespace: certs}"))])
    rep = report(granted, entrypoints=(("web", 8443, False),))
    programmed = next(c for c in listener(rep, "https").conditions if c.type == "Programmed")
    assert (programmed.status.value, programmed.reason) == ("False", "Invalid")
    assert "does not serve TLS" in programmed.message


def test_route_parent_reasons() -> None:
    """conformance/tests/httproute-hostname-intersection.go (NoMatchingListenerHostname),
    httproute-invalid-parentref-not-matching-section-name.go (NoMatchingParent),
    httproute-invalid-cross-namespace-parent-ref.go (NotAllowedByListeners)."""
    listeners = "  - {name: http, port: 8080, protocol: HTTP, hostname: very.specific.com}\n"
    text = "---\n".join(
        [
            CLASS,
            gateway(listeners),
            route("hosts", "  parentRefs: [{name: gw}]\n  hostnames: [non.matching.com]\n"),
            route("section", "  parentRefs: [{name: gw, sectionName: nope}]\n"),
            route("port", "  parentRefs: [{name: gw, port: 8081}]\n"),
            route("other-ns", "  parentRefs: [{name: gw, namespace: infra}]\n", namespace="apps"),
            route("not-ours", "  parentRefs: [{name: someone-elses}]\n"),
        ]
    )
    rep = report(text)
    assert cond(parent_conditions(rep, "hosts"), "Accepted")[:2] == ("False", "NoMatchingListenerHostname")
    assert cond(parent_conditions(rep, "section"), "Accepted")[:2] == ("False", "NoMatchingParent")
    assert cond(parent_conditions(rep, "port"), "Accepted")[:2] == ("False", "NoMatchingParent")
    assert cond(parent_conditions(rep, "other-ns", "apps"), "Accepted")[:2] == (
        "False",
        "NotAllowedByListeners",
    )
    assert ObjectRef("HTTPRoute", "infra", "not-ours") not in rep.http_routes
    assert rep.http_routes[ObjectRef("HTTPRoute", "infra", "hosts")].parents[0].controller_name == (
        "ingressctl.io/gateway-controller"
    )


def test_route_resolved_refs() -> None:
    """conformance/tests/httproute-invalid-backendref-nonexistent.go, -unknown-kind.go,
    httproute-invalid-cross-namespace-backend-ref.go, httproute-reference-grant.go."""

    def refs(backend: str, extra: str = "") -> tuple[str, str, int]:
        text = "---\n".join(
            [
                CLASS,
                gateway(HTTP),
                service("svc", "infra"),
                service("svc", "apps"),
                route("r", f"  parentRefs: [{{name: gw}}]\n  rules: [{{backendRefs: [{backend}]}}]\n"),
                *([extra] if extra else []),
            ]
        )
        return cond(parent_conditions(report(text), "r"), "ResolvedRefs")

    assert refs("{name: svc, port: 8080}") == ("True", "ResolvedRefs", 7)
    assert refs("{name: gone, port: 8080}")[:2] == ("False", "BackendNotFound")
    assert refs("{group: example.com, kind: Bucket, name: svc}")[:2] == ("False", "InvalidKind")
    assert refs("{name: svc, namespace: apps, port: 8080}")[:2] == ("False", "RefNotPermitted")
    grant = f"""apiVersion: {GROUP}
kind: ReferenceGrant
metadata: {{name: g, namespace: apps}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}}]
  to: [{{group: "", kind: Service}}]
"""
    assert refs("{name: svc, namespace: apps, port: 8080}", grant) == ("True", "ResolvedRefs", 7)


def test_without_entrypoints_every_listener_port_counts() -> None:
    """validate and routes without --config judge everything but the port."""
    rep = report(CLASS + "---\n" + gateway("  - {name: http, port: 1234, protocol: HTTP}\n"), entrypoints=())
    assert cond(listener(rep, "http").conditions, "Programmed")[:2] == ("True", "Programmed")
