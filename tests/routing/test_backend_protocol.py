"""Backend protocols and backend TLS settings: every spelling, precedence, and failing closed."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ingressctl.model import (
    BackendProblem,
    Diagnostic,
    EndpointPort,
    Location,
    ObjectMeta,
    Route,
    Secret,
    Service,
    ServicePort,
    Severity,
    Snapshot,
)
from ingressctl.routing.backend_protocol import SERVERS_SCHEME, SERVERS_TRANSPORT
from tests.routing.builders import build, endpoint_slice, ep, ingress, path, rule, secret

NGINX = "nginx.ingress.kubernetes.io/"
CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def compile_route(
    annotations: Mapping[str, str] | None = None,
    service_annotations: Mapping[str, str] | None = None,
    app_protocol: str = "",
    service_type: str = "ClusterIP",
    secrets: tuple[Secret, ...] = (),
) -> tuple[Route, list[Diagnostic]]:
    svc = Service(
        ObjectMeta(
            "web",
            "shop",
            annotations=dict(service_annotations or {}),
            annotation_locations={k: Location("svc.yaml", 7) for k in service_annotations or {}},
        ),
        type=service_type,
        ports=(ServicePort(443, "https", 8443, app_protocol=app_protocol),),
        external_name="api.example.net" if service_type == "ExternalName" else "",
    )
    ing = ingress(
        "app",
        rule("h", path("/", None, service="web", port=443)),
        ns="shop",
        annotations=annotations or {},
        location=Location("app.yaml", 1),
    )
    snapshot = Snapshot(
        ingresses=(ing,),
        services=(svc,),
        endpoint_slices=(
            endpoint_slice("web", ep("10.0.0.1"), ns="shop", ports=(EndpointPort(8443, "https"),)),
        ),
        secrets=secrets,
    )
    table, diagnostics = build(snapshot, allow_external_name_services=True)
    [route] = table.routes
    return route, diagnostics


@pytest.mark.parametrize(
    ("annotations", "service_annotations", "app_protocol", "scheme"),
    [
        ({}, {}, "", "http"),
        ({NGINX + "backend-protocol": "HTTPS"}, {}, "", "https"),
        ({NGINX + "backend-protocol": "grpc"}, {}, "", "h2c"),
        ({NGINX + "backend-protocol": "GRPCS"}, {}, "", "h2"),
        ({NGINX + "backend-protocol": "H2C"}, {}, "", "h2c"),
        ({"ingress.kubernetes.io/protocol": "https"}, {}, "", "https"),
        ({"ingress.kubernetes.io/protocol": "h2c"}, {}, "", "h2c"),
        ({}, {SERVERS_SCHEME: "https"}, "", "https"),
        ({}, {SERVERS_SCHEME: "h2c"}, "", "h2c"),
        ({}, {}, "kubernetes.io/h2c", "h2c"),
        ({}, {}, "https", "https"),
        ({}, {}, "kubernetes.io/wss", "https"),
        ({}, {}, "mysql", "http"),  # an application name, not a protocol the proxy speaks
        # The Ingress annotation wins over the Service's, which wins over appProtocol.
        ({NGINX + "backend-protocol": "HTTP"}, {SERVERS_SCHEME: "https"}, "kubernetes.io/h2c", "http"),
        ({}, {SERVERS_SCHEME: "http"}, "https", "http"),
    ],
)
def test_scheme_from_each_spelling(
    annotations: dict[str, str], service_annotations: dict[str, str], app_protocol: str, scheme: str
) -> None:
    route, diagnostics = compile_route(annotations, service_annotations, app_protocol)
    assert route.backend.scheme == scheme
    assert route.backend.problem is None
    assert (route.backend.tls is not None) == (scheme in ("https", "h2"))
    assert not [d for d in diagnostics if d.severity is Severity.ERROR]


def test_tls_defaults_verify_against_system_cas_with_the_service_dns_name() -> None:
    route, _ = compile_route({NGINX + "backend-protocol": "HTTPS"})
    tls = route.backend.tls
    assert tls is not None and tls.verify and not tls.ca_pem
    assert tls.server_name == "web.shop.svc"
    assert tls.describe() == "verify against system CAs, SNI web.shop.svc"


def test_external_name_is_the_sni() -> None:
    route, _ = compile_route({}, {SERVERS_SCHEME: "https"}, service_type="ExternalName")
    assert route.backend.tls is not None and route.backend.tls.server_name == "api.example.net"


def test_proxy_ssl_secret_verify_off_and_name() -> None:
    cert = CA_PEM
    route, _ = compile_route(
        {
            NGINX + "backend-protocol": "HTTPS",
            NGINX + "proxy-ssl-secret": "shop/backend-ca",
            NGINX + "proxy-ssl-name": "internal.example",
        },
        secrets=(secret("backend-ca", {"ca.crt": cert}, ns="shop"),),
    )
    tls = route.backend.tls
    assert tls is not None and tls.ca_pem == cert and tls.verify and tls.server_name == "internal.example"
    assert "Secret shop/backend-ca" in tls.describe()
    route, _ = compile_route({NGINX + "backend-protocol": "HTTPS", NGINX + "proxy-ssl-verify": "off"})
    assert route.backend.tls is not None and not route.backend.tls.verify
    assert "NOT verified" in route.backend.tls.describe()


@pytest.mark.parametrize(
    ("annotations", "secrets", "fragment"),
    [
        ({NGINX + "backend-protocol": "AJP"}, (), "'AJP' is not supported"),
        ({"ingress.kubernetes.io/protocol": "spdy"}, (), "'spdy' is not supported"),
        ({NGINX + "proxy-ssl-verify": "maybe"}, (), "neither on nor off"),
        ({NGINX + "proxy-ssl-secret": "other/ca"}, (), "namespace shop"),
        ({NGINX + "proxy-ssl-secret": "missing"}, (), "not part of the input"),
        ({NGINX + "proxy-ssl-secret": "bad"}, (secret("bad", {"ca.crt": b"junk"}, ns="shop"),), "not a PEM"),
    ],
)
def test_settings_that_cannot_be_honoured_fail_closed(
    annotations: dict[str, str],
    secrets: tuple[Secret, ...],
    fragment: str,
) -> None:
    route, diagnostics = compile_route({NGINX + "backend-protocol": "HTTPS", **annotations}, secrets=secrets)
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    errors = [d for d in diagnostics if d.code == "IC240" and d.severity is not Severity.WARNING]
    assert errors and fragment in errors[0].message, diagnostics
    assert errors[0].location is not None


def test_service_annotations_bad_scheme_and_serverstransport() -> None:
    route, diagnostics = compile_route({}, {SERVERS_SCHEME: "ftp"})
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    [error] = [d for d in diagnostics if d.code == "IC240"]
    assert error.severity is Severity.ERROR and error.location == Location("svc.yaml", 7)
    route, diagnostics = compile_route(
        {}, {SERVERS_SCHEME: "https", SERVERS_TRANSPORT: "shop-tr@kubernetescrd"}
    )
    assert route.backend.problem is None and route.backend.scheme == "https"
    [warning] = [d for d in diagnostics if d.code == "IC240"]
    assert warning.severity is Severity.WARNING and "CRD" in warning.message
