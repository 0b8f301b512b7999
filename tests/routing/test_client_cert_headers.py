"""pass-tls-cert / pass-client-tls-cert (Traefik 1.7) and auth-tls-pass-certificate-to-upstream
(ingress-nginx): typed at compile time, shown in the chain, failing closed on values that cannot be read."""

from __future__ import annotations

import pytest

from ingressctl.checks.lint.annotations import nearest_known
from ingressctl.model import BackendProblem, Severity
from ingressctl.model.client_cert_headers import InfoFields, NameFields
from ingressctl.routing.chain import chain_descriptions, chain_labels
from ingressctl.routing.refusals import protection, unsupported_traefik
from tests.routing.builders import secret
from tests.routing.test_annotations import compile_one
from tests.tls.conftest import CA

TRAEFIK = "traefik.ingress.kubernetes.io/"
T1 = "ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"

# Traefik 1.7's documented example (docs/configuration/backends/kubernetes.md, note 3).
TRAEFIK_EXAMPLE = """\
pem: true
infos:
  notafter: true
  notbefore: true
  sans: true
  subject:
    country: true
    province: true
    locality: true
    organization: true
    commonname: true
    serialnumber: true
"""


@pytest.mark.parametrize(
    "key", [TRAEFIK + "pass-tls-cert", T1 + "pass-tls-cert", "traefik.frontend.passTLSCert"]
)
def test_pass_tls_cert_passes_the_pem(key: str) -> None:
    route, diagnostics = compile_one({key: "true"})
    headers = route.middlewares.client_cert_headers
    assert headers is not None and headers.traefik_pem and headers.traefik_infos is None
    assert not headers.nginx_pem and headers.annotations == (key,)
    assert not [d for d in diagnostics if d.code in ("IC241", "IC213")], diagnostics
    assert chain_labels(route) == ["pass-client-cert"]
    [described] = chain_descriptions(route)
    assert described["sets"] == ["X-Forwarded-Tls-Client-Cert (escaped PEM body)"]
    assert "X-Forwarded-Tls-Client-Cert" in described["removes"]  # type: ignore[operator]


def test_pass_tls_cert_false_still_removes_the_clients_headers() -> None:
    route, _ = compile_one({TRAEFIK + "pass-tls-cert": "false"})
    headers = route.middlewares.client_cert_headers
    assert headers is not None and not headers.traefik_pem
    [described] = chain_descriptions(route)
    assert described["sets"] == [] and str(described["effect"]).startswith(
        "removes X-Forwarded-Tls-Client-Cert"
    )


def test_pass_client_tls_cert_reads_traefiks_yaml() -> None:
    route, diagnostics = compile_one({TRAEFIK + "pass-client-tls-cert": TRAEFIK_EXAMPLE})
    headers = route.middlewares.client_cert_headers
    assert not [d for d in diagnostics if d.severity is Severity.ERROR], diagnostics
    assert headers is not None and headers.traefik_pem
    assert headers.traefik_infos == InfoFields(
        subject=NameFields(
            country=True,
            province=True,
            locality=True,
            organization=True,
            serial_number=True,
            common_name=True,
        ),
        not_before=True,
        not_after=True,
        sans=True,
    )
    [described] = chain_descriptions(route)
    assert described["sets"] == [
        "X-Forwarded-Tls-Client-Cert (escaped PEM body)",
        "X-Forwarded-Tls-Client-Cert-Infos (Subject(C,ST,L,O,SN,CN), NB, NA, SAN)",
    ]


def test_infos_alone_and_issuer_fields() -> None:
    value = "infos:\n  issuer:\n    commonName: true\n    domaincomponent: true\n"
    route, _ = compile_one({T1 + "pass-client-tls-cert": value})
    headers = route.middlewares.client_cert_headers
    assert headers is not None and not headers.traefik_pem
    assert headers.traefik_infos == InfoFields(issuer=NameFields(common_name=True, domain_component=True))


def test_nginx_pass_certificate_after_the_client_certificate_check() -> None:
    secrets = (secret("clients", {"ca.crt": CA("clients CA").pem}),)
    route, diagnostics = compile_one(
        {NGINX + "auth-tls-secret": "clients", NGINX + "auth-tls-pass-certificate-to-upstream": "true"},
        secrets=secrets,
    )
    headers = route.middlewares.client_cert_headers
    assert headers is not None and headers.nginx_pem and not headers.traefik
    assert headers.header_names() == ("ssl-client-cert",)
    assert chain_labels(route) == ["client-certificate", "pass-client-cert"]
    effect = str(chain_descriptions(route)[1]["effect"])
    assert "ssl-client-cert (URL-encoded PEM)" in effect and "CAs of Secret default/clients" in effect
    assert route.backend.problem is not BackendProblem.ANNOTATION_REFUSED, diagnostics


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({TRAEFIK + "pass-tls-cert": "yes please"}, "'yes please' is not true or false"),
        ({NGINX + "auth-tls-pass-certificate-to-upstream": "maybe"}, "'maybe' is not true or false"),
        ({TRAEFIK + "pass-client-tls-cert": "pem: [true"}, "not YAML"),
        ({TRAEFIK + "pass-client-tls-cert": "true"}, "not a YAML mapping"),
        ({TRAEFIK + "pass-client-tls-cert": "pme: true"}, "unknown key(s) pme"),
        ({TRAEFIK + "pass-client-tls-cert": "pem: sometimes"}, "pem: 'sometimes' is not true or false"),
        (
            {TRAEFIK + "pass-client-tls-cert": "infos:\n  subject:\n    shoesize: true\n"},
            "infos.subject: unknown key(s) shoesize",
        ),
        ({TRAEFIK + "pass-client-tls-cert": "infos: [sans]"}, "infos is not a YAML mapping"),
    ],
)
def test_a_value_that_cannot_be_read_fails_closed(annotations: dict[str, str], fragment: str) -> None:
    route, diagnostics = compile_one(annotations)
    assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
    [error] = [d for d in diagnostics if d.code == "IC241"]
    assert error.severity is Severity.ERROR and fragment in error.message, error.message
    assert "answers 503" in error.message
    assert route.middlewares.client_cert_headers is None


def test_no_longer_unsupported_and_typos_still_suggest_the_key() -> None:
    for key in (TRAEFIK + "pass-tls-cert", TRAEFIK + "pass-client-tls-cert"):
        assert not unsupported_traefik(key)
        assert protection(key) is None
    assert nearest_known(TRAEFIK + "pass-tls-crt") == TRAEFIK + "pass-tls-cert"
