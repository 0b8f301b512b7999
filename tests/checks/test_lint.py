"""Each IC3xx rule on model objects built by hand: what fires, where, and what it suggests."""

from __future__ import annotations

import datetime

from ingressctl.checks.codes import CODES
from ingressctl.checks.runner import lint
from ingressctl.model import (
    Diagnostic,
    EndpointSlice,
    IngressClass,
    IngressRule,
    Location,
    ObjectMeta,
    Service,
    ServicePort,
    Severity,
    Snapshot,
)
from ingressctl.routing.options import CompileOptions
from tests.checks.builders import FILE, backend, certificate, ingress, loc, rule, service, tls, tls_secret

OPTIONS = CompileOptions()


def findings(snapshot: Snapshot, code: str, options: CompileOptions = OPTIONS) -> list[Diagnostic]:
    return [d for d in lint(snapshot, options) if d.code == code]


# ------------------------------------------------------------------ IC301


def test_ic301_extensions_v1beta1_ingress_names_the_replacement_and_migrate() -> None:
    old = ingress("legacy", api_version="extensions/v1beta1", rules=[rule("a.test")], line=7)
    [finding] = findings(Snapshot(ingresses=(old,)), "IC301")
    assert finding.severity is Severity.WARNING
    assert finding.location == Location(FILE, 7, 1)
    assert "extensions/v1beta1" in finding.message
    assert "networking.k8s.io/v1" in finding.message
    assert "serviceName/servicePort" in finding.message and "service.port.number" in finding.message
    assert "pathType" in finding.message
    assert "ingressctl migrate" in finding.hint


def test_ic301_networking_v1beta1_ingress_class_and_discovery_v1beta1_slice() -> None:
    snapshot = Snapshot(
        ingresses=(ingress("beta", api_version="networking.k8s.io/v1beta1", rules=[rule("a.test")]),),
        ingress_classes=(
            IngressClass(
                ObjectMeta("old", namespace="", location=loc(20)), api_version="networking.k8s.io/v1beta1"
            ),
        ),
        endpoint_slices=(
            EndpointSlice(
                ObjectMeta("web-x", location=loc(30)), "web", api_version="discovery.k8s.io/v1beta1"
            ),
        ),
    )
    got = findings(snapshot, "IC301")
    assert [d.location.line for d in got if d.location] == [1, 20, 30]
    assert "discovery.k8s.io/v1" in got[2].message and "nodeName" in got[2].message
    assert "networking.k8s.io/v1" in got[1].hint


def test_ic301_quiet_for_current_versions_even_of_other_classes() -> None:
    snapshot = Snapshot(
        ingresses=(ingress(rules=[rule("a.test")]),),
        ingress_classes=(IngressClass(ObjectMeta("ours", namespace="")),),
        endpoint_slices=(EndpointSlice(ObjectMeta("web-x"), "web"),),
    )
    assert findings(snapshot, "IC301") == []
    other = ingress(api_version="extensions/v1beta1", class_name="nginx", rules=[rule("a.test")])
    assert len(findings(Snapshot(ingresses=(other,)), "IC301")) == 1


# ------------------------------------------------------------------ IC302


def test_ic302_typo_is_reported_at_the_annotation_with_the_nearest_key() -> None:
    annotations = {
        "ingress.kubernetes.io/ssl-redirct": "basic",
        "traefik.frontend.priorty": "10",
        "ingress.kubernetes.io/ssl-redirect": "true",
        "kubernetes.io/ingress.class": "traefik",
        "example.com/owner": "team-a",
    }
    lines = {key: 3 + i for i, key in enumerate(annotations)}
    subject = ingress(rules=[rule("a.test")], annotations=annotations, annotation_lines=lines)
    got = findings(Snapshot(ingresses=(subject,)), "IC302")
    assert [(d.location, d.hint) for d in got] == [
        (Location(FILE, 3, 5), "did you mean ingress.kubernetes.io/ssl-redirect?"),
        (Location(FILE, 4, 5), "did you mean traefik.frontend.priority?"),
    ]
    assert "ingress.kubernetes.io/ssl-redirct" in got[0].message


def test_ic302_router_names_and_unknown_without_neighbour() -> None:
    subject = ingress(
        rules=[rule("a.test")],
        annotations={
            "traefik.ingress.kubernetes.io/router.entrypoint": "websecure",
            "traefik.ingress.kubernetes.io/zzzzzzzzzzzzzzzzzzzz": "x",
        },
    )
    got = {
        d.message.split("annotation ")[1].split(";")[0]: d.hint
        for d in findings(Snapshot((subject,)), "IC302")
    }
    assert got["traefik.ingress.kubernetes.io/router.entrypoint"] == (
        "did you mean traefik.ingress.kubernetes.io/router.entrypoints?"
    )
    assert "README" in got["traefik.ingress.kubernetes.io/zzzzzzzzzzzzzzzzzzzz"]
    # Without annotation positions the finding points at the object.
    assert all(d.location == Location(FILE, 1, 1) for d in findings(Snapshot((subject,)), "IC302"))


def test_ic302_ignores_ingresses_of_other_classes() -> None:
    subject = ingress(
        rules=[rule("a.test")], class_name="nginx", annotations={"ingress.kubernetes.io/ssl-redirct": "x"}
    )
    assert findings(Snapshot((subject,)), "IC302") == []


# ------------------------------------------------------------------ IC303 / IC304


def test_ic303_tls_host_without_rule() -> None:
    subject = ingress(rules=[rule("a.test")], tls=[tls("a.test", "b.test", line=12)])
    [finding] = findings(Snapshot((subject,)), "IC303")
    assert "b.test" in finding.message
    assert finding.location == loc(12)
    assert "spec.tls[0].hosts" in finding.hint


def test_ic303_wildcards_hostless_rules_and_default_backend_cover_tls_hosts() -> None:
    wildcard_tls = ingress(rules=[rule("a.example.test")], tls=[tls("*.example.test")])
    wildcard_rule = ingress("w", rules=[rule("*.example.test")], tls=[tls("b.example.test")])
    hostless = ingress("h", rules=[rule(None)], tls=[tls("c.test")])
    default = ingress("d", default_backend=backend(), tls=[tls("d.test")])
    assert findings(Snapshot((wildcard_tls, wildcard_rule, hostless, default)), "IC303") == []
    # One label only: *.example.test does not cover a.b.example.test.
    deep = ingress(rules=[rule("a.b.example.test")], tls=[tls("*.example.test")])
    assert len(findings(Snapshot((deep,)), "IC303")) == 1


def test_ic304_rule_host_without_tls_when_others_have_it() -> None:
    subject = ingress(rules=[rule("a.test"), rule("b.test", line=15)], tls=[tls("a.test")])
    [finding] = findings(Snapshot((subject,)), "IC304")
    assert finding.severity is Severity.WARNING
    assert "b.test" in finding.message and "a.test" in finding.message
    assert finding.location == loc(15, 5)


def test_ic304_quiet_without_tls_or_when_another_ingress_or_wildcard_covers() -> None:
    plain = ingress("plain", rules=[rule("a.test"), rule("b.test")])
    assert findings(Snapshot((plain,)), "IC304") == []
    first = ingress("first", rules=[rule("a.test"), rule("b.test")], tls=[tls("a.test")])
    second = ingress("second", rules=[rule("b.test")], tls=[tls("b.test", secret="b")])
    assert findings(Snapshot((first, second)), "IC304") == []
    wildcard = ingress(
        "w", rules=[rule("x.example.test"), rule("y.example.test")], tls=[tls("*.example.test")]
    )
    assert findings(Snapshot((wildcard,)), "IC304") == []


# ------------------------------------------------------------------ IC305


def test_ic305_port_name_on_a_service_with_unnamed_ports() -> None:
    subject = ingress(rules=[rule("a.test", ("/", "web", "http"))])
    svc = service("web", ServicePort(port=8080))
    [finding] = findings(Snapshot((subject,), services=(svc,)), "IC305")
    assert finding.severity is Severity.INFO
    assert "'http'" in finding.message and "no names" in finding.message
    assert finding.hint.startswith("use service.port.number: 8080")
    assert finding.related == (loc(40),)


def test_ic305_target_port_given_instead_of_service_port() -> None:
    by_number = ingress("n", rules=[rule("a.test", ("/", "web", 8080))])
    by_name = ingress("m", rules=[rule("b.test", ("/", "web", "container-http"))])
    svc = service("web", ServicePort(port=80, name="http", target_port=8080))
    named = service("web", ServicePort(port=80, name="http", target_port="container-http"))
    [number] = findings(Snapshot((by_number,), services=(svc,)), "IC305")
    assert "targetPort" in number.message and number.hint == "use service.port.number: 80"
    [name] = findings(Snapshot((by_name,), services=(named,)), "IC305")
    assert name.hint == "use service.port.name: http"


def test_ic305_quiet_for_matching_ports_missing_services_and_external_names() -> None:
    ok = ingress(rules=[rule("a.test", ("/", "web", "http"), ("/n", "web", 80))])
    assert findings(Snapshot((ok,), services=(service("web"),)), "IC305") == []
    assert findings(Snapshot((ok,)), "IC305") == []
    external = Service(ObjectMeta("web"), type="ExternalName", external_name="example.com")
    odd = ingress(rules=[rule("a.test", ("/", "web", 8443))])
    assert findings(Snapshot((odd,), services=(external,)), "IC305") == []


# ------------------------------------------------------------------ IC306


def test_ic306_same_host_two_secrets_points_at_the_younger_ingress() -> None:
    old = ingress(
        "old", rules=[rule("a.test")], tls=[tls("a.test", secret="a-old", line=10)], created="2020-01-01"
    )
    new = ingress(
        "new",
        rules=[rule("a.test")],
        tls=[tls("a.test", secret="a-new", line=50)],
        created="2021-01-01",
        line=40,
    )
    [finding] = findings(Snapshot((new, old)), "IC306")
    assert finding.location == loc(50)
    assert finding.related == (loc(10),)
    assert "a-new" in finding.message and "a-old" in finding.message


def test_ic306_quiet_for_the_same_secret() -> None:
    one = ingress("one", rules=[rule("a.test")], tls=[tls("a.test", secret="shared")])
    two = ingress("two", rules=[rule("a.test", ("/api", "api", 80))], tls=[tls("a.test", secret="shared")])
    assert findings(Snapshot((one, two)), "IC306") == []


# ------------------------------------------------------------------ IC307


def test_ic307_nginx_annotations_on_a_served_ingress_with_equivalent() -> None:
    subject = ingress(
        rules=[rule("a.test")],
        annotations={
            "nginx.ingress.kubernetes.io/proxy-buffer-size": "8m",
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
            "cert-manager.io/cluster-issuer": "letsencrypt",
        },
        annotation_lines={
            "nginx.ingress.kubernetes.io/proxy-buffer-size": 4,
            "nginx.ingress.kubernetes.io/ssl-redirect": 5,
        },
    )
    got = findings(Snapshot((subject,)), "IC307")
    # ssl-redirect is implemented in its ingress-nginx spelling: not reported.
    assert [d.location for d in got] == [Location(FILE, 4, 5)]
    assert "ingress-nginx" in got[0].message
    nginx_class = ingress(class_name="nginx", rules=[rule("a.test")], annotations=subject.meta.annotations)
    assert findings(Snapshot((nginx_class,)), "IC307") == []


def test_ic307_says_served_without_it_and_leaves_protections_to_the_compiler() -> None:
    subject = ingress(
        rules=[rule("a.test")],
        annotations={
            "nginx.ingress.kubernetes.io/proxy-buffer-size": "8m",
            "nginx.ingress.kubernetes.io/auth-cache-key": "$remote_user",  # IC220, an error of the compiler
            "ingress.kubernetes.io/auth-tls-insecure": "true",  # Traefik forward auth, served: neither
            "ingress.kubernetes.io/proxy-headers": "X-Custom",  # Traefik's, harmless: IC307, not a typo
        },
    )
    got = findings(Snapshot((subject,)), "IC307")
    assert [d.message for d in got] == [
        "Ingress default/web: annotation ingress.kubernetes.io/proxy-headers (Traefik) is not supported by "
        "ingressctl; served without it",
        "Ingress default/web: annotation nginx.ingress.kubernetes.io/proxy-buffer-size (ingress-nginx: "
        "upstream response header buffer size) is not supported by ingressctl; served without it",
    ]
    assert findings(Snapshot((subject,)), "IC302") == []


# ------------------------------------------------------------------ IC308


def test_ic308_duplicate_objects_refer_to_the_first_definition() -> None:
    first = ingress("web", rules=[rule("a.test")], line=1)
    again = ingress("web", rules=[rule("a.test")], line=30, file="other.yaml")
    elsewhere = ingress("web", namespace="prod", rules=[rule("a.test")], line=60)
    [finding] = findings(Snapshot((first, again, elsewhere)), "IC308")
    assert finding.location == Location("other.yaml", 30, 1)
    assert finding.related == (Location(FILE, 1, 1),)
    assert "Ingress default/web" in finding.message


def test_every_emitted_code_is_documented() -> None:
    snapshot = Snapshot(
        ingresses=(
            ingress(
                "a",
                api_version="extensions/v1beta1",
                rules=[rule("a.test"), rule("c.test")],
                tls=[tls("a.test", "b.test")],
                annotations={
                    "ingress.kubernetes.io/ssl-redirct": "x",
                    "nginx.ingress.kubernetes.io/proxy-buffer-size": "y",
                },
            ),
            ingress("a", rules=[rule("a.test", ("/", "web", "http"))], tls=[tls("a.test", secret="other")]),
        ),
        services=(service("web", ServicePort(port=80)),),
    )
    expired, key = certificate("a.test", not_after=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC))
    regex = ingress(
        "r",
        rules=[rule("r.test", ("/x(.*)", "web", 80)), IngressRule(host="s.test")],
        tls=[tls("r.test", "s.test", secret="old")],
    )
    snapshot = Snapshot(
        ingresses=(*snapshot.ingresses, regex),
        services=snapshot.services,
        secrets=(tls_secret("old", expired, key),),
    )
    codes = {d.code for d in lint(snapshot, OPTIONS, now=NOW)}
    assert codes == set(CODES)


# ------------------------------------------------------------------ IC309

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


def certificate_findings(snapshot: Snapshot, now: datetime.datetime | None = NOW) -> list[Diagnostic]:
    return [d for d in lint(snapshot, OPTIONS, now=now) if d.code == "IC309"]


def test_ic309_valid_certificate_is_quiet_and_wildcards_count() -> None:
    cert, key = certificate("a.test", "*.b.test")
    subject = ingress(rules=[rule("a.test"), rule("x.b.test")], tls=[tls("a.test", "x.b.test")])
    assert certificate_findings(Snapshot((subject,), secrets=(tls_secret("web-tls", cert, key),))) == []


def test_ic309_expired_not_yet_valid_and_expiring_soon() -> None:
    subject = ingress(rules=[rule("a.test")], tls=[tls("a.test", line=9)])
    cases = {
        (
            datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
            datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC),
        ): (
            Severity.ERROR,
            "expired on 2026-05-01",
        ),
        (
            datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC),
            datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
        ): (
            Severity.WARNING,
            "not valid before 2026-07-01",
        ),
        (
            datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
            datetime.datetime(2026, 6, 11, tzinfo=datetime.UTC),
        ): (
            Severity.INFO,
            "expires in 10 days",
        ),
    }
    for (not_before, not_after), (severity, text) in cases.items():
        cert, key = certificate("a.test", not_before=not_before, not_after=not_after)
        snapshot = Snapshot((subject,), secrets=(tls_secret("web-tls", cert, key),))
        [finding] = certificate_findings(snapshot)
        assert finding.severity is severity and text in finding.message
        assert finding.location == loc(9) and finding.related == (loc(70),)
        # Without a clock, expiry is not judged.
        assert certificate_findings(snapshot, now=None) == []


def test_ic309_host_not_named_by_the_certificate() -> None:
    cert, key = certificate("a.test")
    subject = ingress(rules=[rule("a.test"), rule("b.test")], tls=[tls("a.test", "b.test")])
    [finding] = certificate_findings(Snapshot((subject,), secrets=(tls_secret("web-tls", cert, key),)))
    assert finding.severity is Severity.WARNING
    assert "does not cover b.test" in finding.message and "a.test" in finding.message
    # A certificate without SAN is judged by its CN; *.x covers one label only.
    cn_only, cn_key = certificate(common_name="*.c.test")
    deep = ingress(rules=[rule("a.b.c.test")], tls=[tls("a.b.c.test")])
    [deep_finding] = certificate_findings(
        Snapshot((deep,), secrets=(tls_secret("web-tls", cn_only, cn_key),))
    )
    assert "does not cover a.b.c.test" in deep_finding.message


def test_ic309_key_mismatch_and_garbage() -> None:
    cert, _ = certificate("a.test")
    _, other_key = certificate("a.test")
    subject = ingress(rules=[rule("a.test")], tls=[tls("a.test")])
    [mismatch] = certificate_findings(Snapshot((subject,), secrets=(tls_secret("web-tls", cert, other_key),)))
    assert mismatch.severity is Severity.ERROR and "does not belong" in mismatch.message
    garbage = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
    [broken] = certificate_findings(
        Snapshot((subject,), secrets=(tls_secret("web-tls", garbage, other_key),))
    )
    assert broken.severity is Severity.ERROR and "cannot be parsed" in broken.message
    # Not PEM at all is the compiler's finding (IC211), not repeated here.
    assert (
        certificate_findings(Snapshot((subject,), secrets=(tls_secret("web-tls", b"junk", b"junk"),))) == []
    )


# ------------------------------------------------------------------ IC310


def test_ic310_regex_and_glob_paths() -> None:
    subject = ingress(
        rules=[
            rule(
                "a.test",
                ("/api(/|$)(.*)", "web", 80),
                ("/static/*", "web", 80),
                ("/v1.2/docs", "web", 80),
                ("/", "web", 80),
            )
        ]
    )
    got = findings(Snapshot((subject,)), "IC310")
    assert [(d.message.split("path ")[1].split(" looks")[0], d.hint) for d in got] == [
        (
            "/api(/|$)(.*)",
            "write path: /api with pathType: Prefix, or set nginx.ingress.kubernetes.io/use-regex: "
            '"true" to match it as a regular expression as ingress-nginx does',
        ),
        (
            "/static/*",
            "write path: /static with pathType: Prefix, or set nginx.ingress.kubernetes.io/use-regex: "
            '"true" to match it as a regular expression as ingress-nginx does',
        ),
    ]
    assert "regular expression" in got[0].message and "glob" in got[1].message


# ------------------------------------------------------------------ IC311


def test_ic311_rule_without_paths() -> None:
    empty = IngressRule(host="a.test", paths=(), location=loc(20), host_location=loc(20, 11))
    subject = ingress(rules=[rule("b.test"), empty])
    [finding] = findings(Snapshot((subject,)), "IC311")
    assert finding.location == loc(20, 11)
    assert (
        "a.test" in finding.message and finding.hint == "add http.paths to spec.rules[1], or remove the rule"
    )
    assert findings(Snapshot((ingress(rules=[rule("b.test")]),)), "IC311") == []
