"""ingress-nginx auth-tls-* annotations: typed, shown in the chain, failing closed where they must."""

from __future__ import annotations

import pytest

from ingressctl.model import BackendProblem, Severity
from ingressctl.routing.chain import chain_descriptions, chain_labels
from ingressctl.routing.refusals import protection
from tests.routing.builders import secret
from tests.routing.test_annotations import compile_one
from tests.tls.conftest import CA

NGINX = "nginx.ingress.kubernetes.io/"


@pytest.fixture(scope="module")
def ca_pem() -> bytes:
    return CA("clients CA").pem


def test_required_and_optional_client_certificates(ca_pem: bytes) -> None:
    secrets = (secret("clients", {"ca.crt": ca_pem}),)
    route, diagnostics = compile_one({NGINX + "auth-tls-secret": "clients"}, secrets=secrets)
    auth = route.middlewares.client_auth
    assert auth is not None and auth.required and auth.ca_pem == ca_pem
    assert auth.ca_subjects == ("CN=clients CA",) and auth.source == "Secret default/clients"
    assert chain_labels(route) == ["client-certificate"]
    assert "400 unless the client presented a certificate" in str(chain_descriptions(route)[0]["effect"])
    assert not [d for d in diagnostics if d.severity is Severity.ERROR]
    route, _ = compile_one(
        {
            NGINX + "auth-tls-secret": "default/clients",
            NGINX + "auth-tls-verify-client": "optional",
            NGINX + "auth-tls-error-page": "https://login.example/cert",
        },
        secrets=secrets,
    )
    auth = route.middlewares.client_auth
    assert auth is not None and not auth.required and auth.error_page == "https://login.example/cert"
    assert chain_labels(route) == ["client-certificate(optional)"]
    route, _ = compile_one(
        {NGINX + "auth-tls-secret": "clients", NGINX + "auth-tls-verify-client": "off"}, secrets=secrets
    )
    assert route.middlewares.client_auth is None and route.backend.problem is None


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({NGINX + "auth-tls-verify-client": "optional_no_ca"}, "'optional_no_ca' cannot be honoured"),
        ({NGINX + "auth-tls-verify-client": "maybe"}, "is not on, optional or off"),
        ({NGINX + "auth-tls-verify-depth": "deep"}, "is not a depth from 0 to 100"),
        ({NGINX + "auth-tls-verify-depth": "-1"}, "is not a depth from 0 to 100"),
        ({NGINX + "auth-tls-secret": "other/clients"}, "must name a Secret of the Ingress's namespace"),
        ({NGINX + "auth-tls-secret": "missing"}, "does not exist"),
        ({NGINX + "auth-tls-secret": "junk"}, "has no PEM certificate under ca.crt"),
    ],
)
def test_what_cannot_be_honoured_fails_closed(
    ca_pem: bytes, annotations: dict[str, str], fragment: str
) -> None:
    given = {NGINX + "auth-tls-secret": "clients", **annotations}
    secrets = (secret("clients", {"ca.crt": ca_pem}), secret("junk", {"ca.crt": b"junk"}))
    route, diagnostics = compile_one(given, secrets=secrets, require_services=True)
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    errors = [d for d in diagnostics if d.code == "IC241" and d.severity is Severity.ERROR]
    assert errors and fragment in errors[0].message, diagnostics


def test_implemented_keys_are_no_longer_refused_but_the_rest_of_the_family_is() -> None:
    assert protection(NGINX + "auth-tls-secret") is None
    assert protection(NGINX + "auth-tls-verify-client") is None
    assert protection(NGINX + "auth-tls-match-cn") == "client certificate authentication"


def test_pass_certificate_to_upstream_is_implemented(ca_pem: bytes) -> None:
    route, diagnostics = compile_one(
        {NGINX + "auth-tls-secret": "clients", NGINX + "auth-tls-pass-certificate-to-upstream": "true"},
        secrets=(secret("clients", {"ca.crt": ca_pem}),),
    )
    assert route.middlewares.client_auth is not None
    assert not [d for d in diagnostics if d.code == "IC241"], diagnostics
    assert chain_labels(route) == ["client-certificate", "pass-client-cert"]
    assert protection(NGINX + "auth-tls-pass-certificate-to-upstream") is None


def test_verify_depth_counts_the_chain_the_secret_holds() -> None:
    root = CA("root CA")
    middle = root.intermediate("middle CA")
    low = middle.intermediate("low CA")
    stray = CA("other root").intermediate("stray CA")  # its root is not in the Secret
    bundle = root.pem + middle.pem + low.pem + stray.pem
    route, diagnostics = compile_one(
        {NGINX + "auth-tls-secret": "clients", NGINX + "auth-tls-verify-depth": "2"},
        secrets=(secret("clients", {"ca.crt": bundle}),),
    )
    auth = route.middlewares.client_auth
    assert auth is not None and auth.depth == 2
    assert dict(auth.ca_levels) == {"CN=root CA": 1, "CN=middle CA": 2, "CN=low CA": 3}
    assert chain_descriptions(route)[0]["verify_depth"] == 2
    assert not [d for d in diagnostics if d.severity is Severity.ERROR]
