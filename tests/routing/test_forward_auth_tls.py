"""Traefik 1.7 forward auth over TLS: auth-tls-secret (the client certificate the proxy presents to
the auth service) and auth-tls-insecure. A value that cannot be honoured fails closed (503)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from ingressctl.model import Diagnostic, Location, Route, Severity
from ingressctl.routing.chain import chain_descriptions, chain_labels
from tests.routing.builders import PREFIX, build, ingress, path, rule, secret, web_world
from tests.tls.conftest import CA

T1 = "ingress.kubernetes.io/"
CLIENT_CRT, CLIENT_KEY = CA("auth clients").issue(["proxy"])
OTHER_CRT, OTHER_KEY = CA("others").issue(["other"])
FORWARD = {T1 + "auth-type": "forward", T1 + "auth-url": "https://auth.test/verify"}


def compile_one(annotations: Mapping[str, str], **options: bool) -> tuple[Route, list[Diagnostic]]:
    subject = ingress("app", rule("a.test", path("/", PREFIX)), annotations=annotations)
    lines = {key: Location("app.yaml", 10 + i, 5) for i, key in enumerate(annotations)}
    subject = dataclasses.replace(subject, meta=dataclasses.replace(subject.meta, annotation_locations=lines))
    secrets = (
        secret("auth-client", {"tls.crt": CLIENT_CRT, "tls.key": CLIENT_KEY}, type="kubernetes.io/tls"),
        secret("mixed", {"tls.crt": CLIENT_CRT, "tls.key": OTHER_KEY}, type="kubernetes.io/tls"),
        secret("no-key", {"tls.crt": CLIENT_CRT}),
    )
    table, diagnostics = build(web_world(subject, secrets=secrets), **options)
    (route,) = table.routes
    return route, diagnostics


def test_the_client_certificate_and_insecure_reach_the_chain() -> None:
    route, diagnostics = compile_one(
        {**FORWARD, T1 + "auth-tls-secret": "auth-client", T1 + "auth-tls-insecure": "true"}
    )
    assert diagnostics == []
    auth = route.middlewares.access.forward_auth
    assert auth is not None and auth.tls is not None
    assert (auth.tls.client_cert_pem, auth.tls.client_key_pem, auth.tls.verify) == (
        CLIENT_CRT,
        CLIENT_KEY,
        False,
    )
    (described,) = [d for d in chain_descriptions(route) if d["name"] == "forward-auth"]
    assert described["tls"] == (
        "certificate NOT verified (insecureSkipVerify), client certificate from Secret default/auth-client"
    )
    assert "PRIVATE KEY" not in str(chain_descriptions(route))  # the key never leaves the process


def test_only_the_secret_verifies_the_service_against_the_system_cas() -> None:
    route, diagnostics = compile_one({**FORWARD, T1 + "auth-tls-secret": "auth-client"})
    assert diagnostics == []
    auth = route.middlewares.access.forward_auth
    assert auth is not None and auth.tls is not None and auth.tls.verify


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({**FORWARD, T1 + "auth-tls-secret": "missing"}, "Secret default/missing does not exist"),
        ({**FORWARD, T1 + "auth-tls-secret": "mixed"}, "tls.key does not belong to the certificate"),
        ({**FORWARD, T1 + "auth-tls-secret": "no-key"}, "needs both tls.crt and tls.key"),
        ({**FORWARD, T1 + "auth-tls-insecure": "maybe"}, "is not a boolean"),
        ({T1 + "auth-tls-secret": "auth-client"}, "is not 'forward'"),
    ],
)
def test_what_cannot_be_honoured_fails_closed_at_its_line(annotations: dict[str, str], fragment: str) -> None:
    route, diagnostics = compile_one(annotations, require_services=True)  # the input is complete
    (error,) = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert fragment in error.message and "answers 503" in error.message
    key = next(k for k in annotations if k.endswith(("auth-tls-secret", "auth-tls-insecure")))
    assert error.location == Location("app.yaml", 10 + list(annotations).index(key), 5)
    assert "fail-closed(forward-auth)" in chain_labels(route)


def test_a_secret_outside_an_incomplete_input_is_information_and_still_closed() -> None:
    route, diagnostics = compile_one({**FORWARD, T1 + "auth-tls-secret": "elsewhere"})
    assert [d.severity for d in diagnostics] == [Severity.INFO]
    assert "fail-closed(forward-auth)" in chain_labels(route)


def test_tls_settings_with_a_plain_http_auth_url_are_a_warning() -> None:
    plain = {**FORWARD, T1 + "auth-url": "http://auth.test/verify", T1 + "auth-tls-insecure": "true"}
    route, diagnostics = compile_one(plain)
    assert [(d.severity, "has no effect" in d.message) for d in diagnostics] == [(Severity.WARNING, True)]
    assert "forward-auth" in chain_labels(route)
