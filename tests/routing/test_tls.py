"""TLS sections: certificates from kubernetes.io/tls Secrets, and each route's certificate source."""

from __future__ import annotations

import pytest

from ingressctl.model import IngressTLS, ObjectRef, Severity, TLSSource
from tests.routing.builders import (
    CERT_PEM,
    KEY_PEM,
    build,
    codes_of,
    ingress,
    path,
    rule,
    secret,
    tls_secret,
    web_world,
)


def app(*tls: IngressTLS, annotations: dict[str, str] | None = None) -> object:
    return ingress(
        "app",
        rule("a.example.com", path("/")),
        rule("b.example.com", path("/")),
        rule("x.wild.test", path("/")),
        rule(None, path("/any")),
        tls=tls,
        annotations=annotations,
    )


def sources(table: object) -> dict[str | None, TLSSource | None]:
    return {r.host: r.tls for r in table.routes}  # type: ignore[attr-defined]


def test_secret_supplies_certificate_for_its_hosts() -> None:
    snapshot = web_world(app(IngressTLS(("a.example.com",), "a-tls")), secrets=(tls_secret("a-tls"),))
    table, diagnostics = build(snapshot)
    assert diagnostics == []
    [cert] = table.certificates
    assert cert.hosts == ("a.example.com",)
    assert cert.secret == ObjectRef("Secret", "default", "a-tls")
    assert (cert.cert_pem, cert.key_pem) == (CERT_PEM, KEY_PEM)
    assert sources(table) == {
        "a.example.com": TLSSource.SECRET,
        "b.example.com": None,
        "x.wild.test": None,
        None: None,
    }


def test_hosts_without_secret_use_acme_or_default() -> None:
    snapshot = web_world(app(IngressTLS(("a.example.com", "*.wild.test"), None)))
    table, diagnostics = build(snapshot)
    assert diagnostics == []
    assert table.certificates == ()
    assert sources(table)["a.example.com"] is TLSSource.DEFAULT
    assert sources(table)["x.wild.test"] is TLSSource.DEFAULT
    acme, _ = build(snapshot, acme_enabled=True)
    assert sources(acme)["a.example.com"] is TLSSource.ACME
    assert sources(acme)["b.example.com"] is None


def test_tls_section_without_hosts_covers_the_rule_hosts() -> None:
    snapshot = web_world(app(IngressTLS((), "all-tls")), secrets=(tls_secret("all-tls"),))
    table, _ = build(snapshot)
    [cert] = table.certificates
    assert cert.hosts == ("a.example.com", "b.example.com", "x.wild.test")
    assert sources(table)["b.example.com"] is TLSSource.SECRET
    assert sources(table)[None] is None


def test_missing_secret_falls_back_with_diagnostic() -> None:
    # A complete input (--require-services, a cluster): a missing Secret is an error.
    snapshot = web_world(app(IngressTLS(("a.example.com",), "nope")), secrets=(tls_secret("other-tls"),))
    table, diagnostics = build(snapshot, acme_enabled=True, require_services=True)
    assert table.certificates == ()
    assert sources(table)["a.example.com"] is TLSSource.ACME
    [d] = diagnostics
    assert (d.code, d.severity) == ("IC210", Severity.ERROR)
    assert "TLS Secret default/nope does not exist; a.example.com fall back" in d.message


@pytest.mark.parametrize("others", [(), ("other-tls",)])
def test_missing_secret_is_info_unless_the_input_is_complete(others: tuple[str, ...]) -> None:
    """Repositories often leave TLS Secrets to cert-manager: not an error unless asked for, and the
    same finding whether or not other Secrets of the namespace are in the input."""
    snapshot = web_world(
        app(IngressTLS(("a.example.com",), "nope")), secrets=tuple(tls_secret(n) for n in others)
    )
    table, diagnostics = build(snapshot)
    [d] = diagnostics
    assert (d.code, d.severity) == ("IC210", Severity.INFO)
    assert "is not part of the input" in d.message
    assert sources(table)["a.example.com"] is TLSSource.DEFAULT
    _, strict = build(snapshot, require_services=True)
    assert [(x.code, x.severity) for x in strict] == [("IC210", Severity.ERROR)]


def test_secret_in_another_namespace_is_not_used() -> None:
    snapshot = web_world(
        app(IngressTLS(("a.example.com",), "a-tls")), secrets=(tls_secret("a-tls", ns="other"),)
    )
    table, diagnostics = build(snapshot)
    assert codes_of(diagnostics) == ["IC210"]
    assert sources(table)["a.example.com"] is TLSSource.DEFAULT


def test_malformed_secrets() -> None:
    cases = {
        "no-key": {"tls.crt": CERT_PEM},
        "no-cert": {"tls.key": KEY_PEM},
        "not-pem": {"tls.crt": b"garbage", "tls.key": KEY_PEM},
        "bad-key": {"tls.crt": CERT_PEM, "tls.key": b"-----BEGIN CERTIFICATE-----"},
        "empty": {"tls.crt": b"", "tls.key": b""},
    }
    for name, data in cases.items():
        snapshot = web_world(app(IngressTLS(("a.example.com",), name)), secrets=(secret(name, data),))
        table, diagnostics = build(snapshot)
        assert codes_of(diagnostics) == ["IC211"], name
        assert table.certificates == (), name
        assert sources(table)["a.example.com"] is TLSSource.DEFAULT, name


def test_invalid_tls_host_is_reported_and_left_out() -> None:
    snapshot = web_world(
        app(IngressTLS(("a.example.com", "bad_host"), "a-tls")), secrets=(tls_secret("a-tls"),)
    )
    table, diagnostics = build(snapshot)
    assert codes_of(diagnostics) == ["IC216"]
    assert table.certificates[0].hosts == ("a.example.com",)


def test_router_tls_annotation_marks_routes_tls_only() -> None:
    annotations = {
        "traefik.ingress.kubernetes.io/router.tls": "true",
        "traefik.ingress.kubernetes.io/router.tls.certresolver": "le",
    }
    table, diagnostics = build(web_world(app(annotations=annotations)), tls_entrypoints=("websecure",))
    assert diagnostics == []
    hosted = [r for r in table.routes if r.host is not None]
    assert all(r.tls_only and r.tls is TLSSource.DEFAULT and r.cert_resolver == "le" for r in hosted)
    assert all(r.entrypoints == ("websecure",) for r in table.routes)


def test_tls_is_per_host_across_ingresses() -> None:
    snapshot = web_world(
        ingress("certs", tls=(IngressTLS(("a.example.com",), "a-tls"),)),
        ingress("site", rule("a.example.com", path("/"))),
        secrets=(tls_secret("a-tls"),),
    )
    table, diagnostics = build(snapshot)
    assert diagnostics == []
    assert [(r.source.name, r.tls) for r in table.routes] == [("site", TLSSource.SECRET)]
    assert table.certificates[0].hosts == ("a.example.com",)
