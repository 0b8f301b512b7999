"""Path, redirect and header annotations (Traefik 1.7, v2/v3 and ingress-nginx spellings): what the
compiler makes of them, the findings for bad values, and the chain they produce."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from ingressctl.model import BackendProblem, Diagnostic, IngressTLS, Location, PathType, Route, Severity
from ingressctl.model.rewrites import PathRewriteKind
from ingressctl.routing.chain import chain_descriptions, chain_labels, route_chain
from ingressctl.routing.chain_rewrites import PathRewriteSpec
from tests.routing.builders import IMPL, PREFIX, build, ingress, path, rule, tls_secret, web_world

T = "traefik.ingress.kubernetes.io/"
V1 = "ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"


def compile_routes(
    annotations: Mapping[str, str], paths: tuple[str, ...] = ("/", "/api"), tls: bool = False
) -> tuple[dict[str, Route], list[Diagnostic]]:
    """Ingress default/app for a.test with `paths`; annotations on lines 10, 11, ... (column 5)."""
    subject = ingress(
        "app",
        rule("a.test", *(path(p, PREFIX) for p in paths)),
        annotations=annotations,
        tls=[IngressTLS(("a.test",), "cert")] if tls else (),
    )
    lines = {key: Location("app.yaml", 10 + i, 5) for i, key in enumerate(annotations)}
    subject = dataclasses.replace(subject, meta=dataclasses.replace(subject.meta, annotation_locations=lines))
    table, diagnostics = build(web_world(subject, secrets=(tls_secret("cert"),)))
    return {r.path: r for r in table.routes}, diagnostics


def labels(route: Route) -> list[str]:
    return chain_labels(route)


def test_security_headers_and_custom_headers_compile_into_the_chain() -> None:
    routes, diagnostics = compile_routes(
        {
            V1 + "hsts-max-age": "31536000",
            V1 + "hsts-include-subdomains": "true",
            V1 + "hsts-preload": "true",
            V1 + "frame-deny": "true",
            V1 + "content-type-nosniff": "true",
            V1 + "browser-xss-filter": "true",
            V1 + "content-security-policy": "default-src 'self'",
            V1 + "referrer-policy": "no-referrer",
            V1 + "custom-response-headers": "X-Served-By: ingressctl||Server:",
            V1 + "custom-request-headers": "X-Env: prod||X-Debug:",
        }
    )
    assert diagnostics == []
    route = routes["/api"]
    assert labels(route) == ["response-headers", "request-headers"]
    response, request = chain_descriptions(route)
    assert response["headers"] == [
        "Strict-Transport-Security: max-age=31536000; includeSubDomains; preload (over TLS)",
        "X-Frame-Options: DENY",
        "X-Content-Type-Options: nosniff",
        "X-XSS-Protection: 1; mode=block",
        "Content-Security-Policy: default-src 'self'",
        "Referrer-Policy: no-referrer",
        "X-Served-By: ingressctl",
        "Server removed",
    ]
    assert request["headers"] == ["X-Env: prod", "X-Debug removed"]


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        (V1 + "hsts-max-age", "a year", "is not a number of seconds"),
        (V1 + "content-type-nosniff", "yes", "is not a boolean"),
        (V1 + "allowed-hosts", "a.test, not a host", "is not a host name"),
        (V1 + "allowed-hosts", " , ", "the list is empty"),
        (V1 + "ssl-redirect", "yes please", "is not a boolean"),
        (V1 + "ssl-host", "https://x", "is not a host[:port]"),
        (V1 + "is-development", "maybe", "is not a boolean"),
        (NGINX + "force-ssl-redirect", "on", "is not a boolean"),
    ],
)
def test_bad_security_values_fail_closed_with_an_error_at_their_line(
    key: str, value: str, fragment: str
) -> None:
    routes, diagnostics = compile_routes({V1 + "frame-deny": "true", key: value})
    [bad] = [d for d in diagnostics if d.code == "IC213"]
    assert bad.severity is Severity.ERROR
    assert bad.location == Location("app.yaml", 11, 5)
    assert fragment in bad.message and "answers 503" in bad.message
    for route in routes.values():
        assert route.backend.problem is BackendProblem.ANNOTATION_REFUSED
        assert key in route.backend.problem_detail


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        (T + "request-modifier", "AddPrefix /x", "is not a request modifier"),
        (T + "request-modifier", "ReplacePathRegex: ^/(a+)+$", "needs a regex and a replacement"),
        (T + "request-modifier", "ReplacePathRegex: ^/(?=a) /b", "linear time"),
        (T + "request-modifier", "ReplacePathRegex: ^/a/(.*) /b/$2", "has 1 group(s)"),
        (T + "rewrite-target", "users", "is not a path"),
        (T + "request-modifier", "ReplacePath: /a?b=c", "is not a path"),
        (T + "app-root", "app", "is not a path"),
        (T + "redirect-regex", "^http://(a", "linear time"),
        (V1 + "custom-request-headers", "X-Env prod", "is not 'Header-Name: value'"),
        (V1 + "custom-request-headers", "Host: other.test", "set by the proxy itself"),
        (V1 + "custom-response-headers", "Content-Length: 5", "set by the proxy itself"),
        (NGINX + "permanent-redirect", "/relative", "is not an absolute http(s) URL"),
        (NGINX + "upstream-vhost", "a b", "is not a host[:port]"),
        (T + "preserve-host", "nope", "is not a boolean"),
        (T + "router.pathmatcher", "PathRegex", "is not a path matcher"),
    ],
)
def test_bad_other_values_are_warnings_and_ignored(key: str, value: str, fragment: str) -> None:
    annotations = {key: value}
    if key == T + "redirect-regex":
        annotations[T + "redirect-replacement"] = "https://b.test/$1"
    routes, diagnostics = compile_routes(annotations)
    bad = [d for d in diagnostics if d.code == "IC213"]
    assert [d.severity for d in bad] == [Severity.WARNING]
    assert bad[0].location == Location("app.yaml", 10, 5)
    assert fragment in bad[0].message and "ignored" in bad[0].message
    route = routes["/api"]
    assert route.backend.problem is None
    assert route_chain(route) == ()


def test_rewrite_target_replaces_the_route_path() -> None:
    routes, diagnostics = compile_routes({T + "rewrite-target": "/v2/"}, paths=("/api/", "/"))
    assert diagnostics == []
    [spec] = route_chain(routes["/api/"])
    assert isinstance(spec, PathRewriteSpec)
    assert spec.apply("/api/users") == "/v2/users"
    assert spec.apply("/api") == "/v2"
    [root] = route_chain(routes["/"])
    assert isinstance(root, PathRewriteSpec)
    assert root.apply("/x") == "/v2/x"
    rooted, _ = compile_routes({T + "rewrite-target": "/"}, paths=("/api",))
    [spec] = route_chain(rooted["/api"])
    assert isinstance(spec, PathRewriteSpec)
    assert (spec.apply("/api/users"), spec.apply("/api")) == ("/users", "/")


@pytest.mark.parametrize(
    ("modifier", "request_path", "expected"),
    [
        ("AddPrefix: /v1", "/api/x", "/v1/api/x"),
        ("ReplacePath: /fixed", "/api/x", "/fixed"),
        ("ReplacePathRegex: ^/api/(.*) /b/$1", "/api/x/y", "/b/x/y"),
        ("ReplacePathRegex: ^/nomatch/(.*) /b/$1", "/api/x", None),
    ],
)
def test_request_modifier(modifier: str, request_path: str, expected: str | None) -> None:
    routes, diagnostics = compile_routes({T + "request-modifier": modifier})
    assert diagnostics == []
    [spec] = route_chain(routes["/api"])
    assert isinstance(spec, PathRewriteSpec)
    assert spec.apply(request_path) == expected


def test_strip_prefix_then_add_prefix_in_order() -> None:
    routes, _ = compile_routes(
        {"traefik.frontend.rule.type": "PathPrefixStrip", T + "request-modifier": "AddPrefix: /internal"}
    )
    assert labels(routes["/api"]) == ["strip-prefix(/api)", "add-prefix(/internal)"]


def test_rule_type_replace_path_sends_the_ingress_path() -> None:
    routes, diagnostics = compile_routes({"traefik.frontend.rule.type": "ReplacePath"}, paths=("/api",))
    assert diagnostics == []
    [spec] = route_chain(routes["/api"])
    assert isinstance(spec, PathRewriteSpec) and spec.kind is PathRewriteKind.REPLACE_PATH
    assert spec.apply("/api/anything") == "/api"


def test_app_root_only_on_the_root_path_and_replaces_other_redirects_there() -> None:
    routes, diagnostics = compile_routes(
        {
            T + "app-root": "/app",
            T + "redirect-entry-point": "https",
            T + "redirect-permanent": "true",
        }
    )
    assert labels(routes["/"]) == ["app-root(/app)"]
    assert labels(routes["/api"]) == ["redirect->https"]
    assert chain_descriptions(routes["/"])[0]["effect"] == "301 from / to /app"
    [note] = diagnostics
    assert note.severity is Severity.WARNING and note.location == Location("app.yaml", 10, 5)


def test_redirect_regex_and_permanent() -> None:
    routes, diagnostics = compile_routes(
        {
            T + "redirect-regex": "^http://a.test/old/(.*)",
            T + "redirect-replacement": "https://b.test/new/$1",
            T + "redirect-permanent": "true",
        }
    )
    assert diagnostics == []
    [described] = chain_descriptions(routes["/api"])
    assert described["name"] == "redirect-regex" and described["permanent"] is True


def test_ssl_redirect_family() -> None:
    routes, diagnostics = compile_routes(
        {
            V1 + "ssl-redirect": "true",
            V1 + "ssl-temporary-redirect": "true",
            V1 + "ssl-host": "secure.a.test:8443",
            V1 + "ssl-force-host": "true",
            V1 + "ssl-proxy-headers": "X-Forwarded-Ssl: on",
        }
    )
    assert diagnostics == []
    [described] = chain_descriptions(routes["/api"])
    assert (described["status"], described["host"]) == (307, "secure.a.test:8443")
    assert "requests over TLS for another host" in str(described["effect"])


def test_nginx_ssl_redirect_needs_a_tls_section_force_does_not() -> None:
    plain, _ = compile_routes({NGINX + "ssl-redirect": "true"})
    assert labels(plain["/api"]) == []
    with_tls, _ = compile_routes({NGINX + "ssl-redirect": "true"}, tls=True)
    assert labels(with_tls["/api"]) == ["redirect->https"]
    assert chain_descriptions(with_tls["/api"])[0]["status"] == 308
    forced, _ = compile_routes({NGINX + "force-ssl-redirect": "true"})
    assert chain_descriptions(forced["/api"])[0]["status"] == 308


def test_nginx_redirects_and_host() -> None:
    routes, diagnostics = compile_routes(
        {
            NGINX + "permanent-redirect": "https://new.test/",
            NGINX + "permanent-redirect-code": "308",
            NGINX + "app-root": "/dashboard",
            NGINX + "upstream-vhost": "internal.svc",
            NGINX + "x-forwarded-prefix": "/shop",
        }
    )
    assert diagnostics == []
    assert labels(routes["/"]) == ["app-root(/dashboard)", "request-headers"]
    assert labels(routes["/api"]) == ["redirect-to(https://new.test/)", "request-headers"]
    assert chain_descriptions(routes["/api"])[0]["status"] == 308
    assert chain_descriptions(routes["/api"])[1]["headers"] == [
        "X-Forwarded-Prefix: /shop",
        "Host: internal.svc",
    ]


def test_preserve_host_false_and_passhostheader() -> None:
    for key in (T + "preserve-host", T + "service.passhostheader"):
        routes, diagnostics = compile_routes({key: "false"})
        assert diagnostics == []
        assert chain_descriptions(routes["/api"])[0]["headers"] == ["Host: the backend's address"]


def test_path_matcher() -> None:
    subject = ingress(
        "app",
        rule("a.test", path("/exact", IMPL), path("/typed", PREFIX)),
        annotations={T + "router.pathmatcher": "Path"},
    )
    table, diagnostics = build(web_world(subject))
    assert diagnostics == []
    by_path = {r.path: r.path_type for r in table.routes}
    assert by_path == {"/exact": PathType.EXACT, "/typed": PathType.PREFIX}


def test_is_development_switches_the_protections_off() -> None:
    routes, diagnostics = compile_routes(
        {
            V1 + "is-development": "true",
            V1 + "allowed-hosts": "a.test",
            V1 + "ssl-redirect": "true",
            V1 + "hsts-max-age": "100",
            V1 + "force-hsts": "true",
            V1 + "frame-deny": "true",
        }
    )
    assert diagnostics == []
    assert labels(routes["/api"]) == ["response-headers"]
    assert chain_descriptions(routes["/api"])[0]["headers"] == ["X-Frame-Options: DENY"]


def test_allowed_hosts_first_then_headers_then_redirect_then_auth_then_rewrites() -> None:
    routes, _ = compile_routes(
        {
            V1 + "allowed-hosts": "a.test, www.a.test:8080",
            V1 + "frame-deny": "true",
            V1 + "ssl-redirect": "true",
            V1 + "custom-request-headers": "X-A: 1",
            T + "request-modifier": "AddPrefix: /p",
        }
    )
    assert labels(routes["/api"]) == [
        "allowed-hosts",
        "response-headers",
        "redirect->https",
        "request-headers",
        "add-prefix(/p)",
    ]


def test_from_to_www_redirect_adds_a_route_for_the_other_host() -> None:
    www = ingress(
        "www", rule("www.a.test", path("/", PREFIX)), annotations={NGINX + "from-to-www-redirect": "true"}
    )
    bare = ingress(
        "bare", rule("b.test", path("/x", PREFIX)), annotations={NGINX + "from-to-www-redirect": "true"}
    )
    table, diagnostics = build(web_world(www, bare))
    assert diagnostics == []
    by_host = {r.host: r for r in table.routes}
    assert set(by_host) == {"www.a.test", "a.test", "b.test", "www.b.test"}
    assert labels(by_host["a.test"]) == ["www-redirect(www.a.test)"]
    assert labels(by_host["www.b.test"]) == ["www-redirect(b.test)"]
    assert labels(by_host["www.a.test"]) == []
    # A rule that names the other host wins, silently.
    claimed = ingress("claimed", rule("a.test", path("/", PREFIX)))
    table, diagnostics = build(web_world(www, claimed))
    assert diagnostics == []
    assert [labels(r) for r in table.routes if r.host == "a.test"] == [[]]


def test_ssl_temporary_redirect_or_force_host_alone() -> None:
    temporary, _ = compile_routes({V1 + "ssl-temporary-redirect": "true"})
    assert labels(temporary["/api"]) == []  # only a variant of ssl-redirect
    forced, _ = compile_routes({V1 + "ssl-force-host": "true", V1 + "ssl-host": "s.test"})
    [described] = chain_descriptions(forced["/api"])
    assert described["effect"] == "301/308 to https://s.test for requests for another host"
