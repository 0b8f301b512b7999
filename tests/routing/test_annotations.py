"""Annotations: typed values, Diagnostics for bad ones, and auth failing closed."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ingressctl.model import (
    BackendProblem,
    BasicAuth,
    Diagnostic,
    Location,
    ObjectMeta,
    PathType,
    Redirect,
    Route,
    Severity,
    Upstream,
)
from ingressctl.model.rewrites import HttpsRedirect
from ingressctl.routing import ANNOTATION_PREFIXES, CODES, KNOWN_ANNOTATIONS
from tests.routing.builders import (
    EXACT,
    IMPL,
    PREFIX,
    build,
    codes_of,
    endpoint_slice,
    ep,
    ingress,
    path,
    rule,
    secret,
    service,
    web_world,
)

ALICE_HASH = "$apr1$abcdefgh$Zo4a.zRe7RtZNr9rQ8xtC1"
BOB_HASH = "{SHA}bOWgjgJew8XNjPXTyFghAc+ha1M="
HTPASSWD = f"alice:{ALICE_HASH}\n# comment\n\nbob:{BOB_HASH}\n".encode()


def compile_one(
    annotations: Mapping[str, str],
    path_type: PathType | None = PREFIX,
    require_services: bool = False,
    **world: object,
) -> tuple[Route, list[Diagnostic]]:
    snapshot = web_world(ingress("app", rule("h", path("/api", path_type)), annotations=annotations), **world)
    table, diagnostics = build(snapshot, require_services=require_services)
    [route] = table.routes
    return route, diagnostics


# ------------------------------------------------------------------ basic auth


@pytest.mark.parametrize("key", ["auth", "users"])
def test_basic_auth_from_secret(key: str) -> None:
    route, diagnostics = compile_one(
        {
            "ingress.kubernetes.io/auth-type": "basic",
            "ingress.kubernetes.io/auth-secret": "creds",
            "ingress.kubernetes.io/auth-realm": "Staff only",
        },
        secrets=(secret("creds", {key: HTPASSWD}),),
    )
    assert diagnostics == []
    assert route.middlewares.basic_auth == BasicAuth(
        realm="Staff only",
        users=(("alice", ALICE_HASH), ("bob", BOB_HASH)),
        source="Secret default/creds",
    )
    assert route.backend.problem is None
    assert "basic-auth" in route.middlewares.names


@pytest.mark.parametrize(
    ("annotations", "secrets", "why"),
    [
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "nope"},
            {},
            "does not exist",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"other": b"x"},
            "no 'auth' key",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"auth": b"alice-without-hash\n"},
            'line 1: expected "user:hash"',
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"auth": b"alice:secret\n"},
            "plain-text passwords are not accepted",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"auth": b"alice:$apr1$abc$def\n"},
            "malformed apr1 hash",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"auth": b"# only a comment\n"},
            "no user",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"},
            {"auth": b"\xff\xfe:bad"},
            "not UTF-8",
        ),
        (
            {"ingress.kubernetes.io/auth-type": "digest", "ingress.kubernetes.io/auth-secret": "creds"},
            {},
            "digest",
        ),
        ({"ingress.kubernetes.io/auth-type": "basic"}, {}, "needs ingress.kubernetes.io/auth-secret"),
        ({"ingress.kubernetes.io/auth-secret": "creds"}, {"auth": HTPASSWD}, "auth-type is not"),
    ],
)
def test_broken_auth_fails_closed(annotations: dict[str, str], secrets: dict[str, bytes], why: str) -> None:
    # With a complete input (--require-services, a cluster) every broken auth is an error.
    route, diagnostics = compile_one(
        annotations, secrets=(secret("creds", secrets),) if secrets else (), require_services=True
    )
    assert route.backend.problem is BackendProblem.AUTH_SECRET_INVALID
    assert route.backend.upstreams == ()  # nothing to forward to, even by mistake
    assert route.middlewares.basic_auth is None
    [d] = diagnostics
    assert (d.code, d.severity) == ("IC212", Severity.ERROR)
    assert why in d.message
    assert "answers 503" in d.message


def test_auth_secret_missing_from_the_input_is_info_and_still_fails_closed() -> None:
    """The rule of every referenced object: not in the input is information, the same whatever else
    the input holds (here another Secret of the namespace); the routes still answer 503."""
    annotations = {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "creds"}
    for secrets in ((), (secret("other", {"auth": HTPASSWD}),)):
        route, diagnostics = compile_one(annotations, secrets=secrets)
        assert route.backend.problem is BackendProblem.AUTH_SECRET_INVALID
        assert route.middlewares.basic_auth is None
        [d] = diagnostics
        assert (d.code, d.severity) == ("IC212", Severity.INFO)
        assert "Secret default/creds is not part of the input" in d.message
        assert "--require-services" in d.hint


def test_auth_failure_points_at_the_annotation() -> None:
    where = Location("app.yaml", 6, 5)
    meta = ObjectMeta(
        "app",
        annotations={"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "gone"},
        annotation_locations={"ingress.kubernetes.io/auth-secret": where},
    )
    from dataclasses import replace

    base = ingress("app", rule("h", path("/")))
    table, diagnostics = build(web_world(replace(base, meta=meta)))
    assert table.routes[0].backend.problem is BackendProblem.AUTH_SECRET_INVALID
    assert diagnostics[0].location == where


# ------------------------------------------------------------------ redirects


def test_ssl_redirect() -> None:
    """Traefik 1.7 (unrolled/secure): ssl-redirect is permanent unless ssl-temporary-redirect."""
    route, diagnostics = compile_one({"ingress.kubernetes.io/ssl-redirect": "true"})
    assert route.middlewares.rewrites is not None
    assert route.middlewares.rewrites.https_redirect == HttpsRedirect(
        301, source="ingress.kubernetes.io/ssl-redirect"
    )
    assert diagnostics == []
    off, _ = compile_one({"ingress.kubernetes.io/ssl-redirect": "false"})
    assert off.middlewares.redirect is None and off.middlewares.rewrites is None


def test_redirect_entry_point_and_permanent() -> None:
    route, diagnostics = compile_one(
        {
            "traefik.ingress.kubernetes.io/redirect-entry-point": "websecure",
            "traefik.ingress.kubernetes.io/redirect-permanent": "true",
        }
    )
    assert route.middlewares.redirect == Redirect("websecure", permanent=True)
    assert diagnostics == []


@pytest.mark.parametrize(
    ("annotations", "fragment"),
    [
        ({"traefik.ingress.kubernetes.io/redirect-entry-point": "http s"}, "not an entrypoint name"),
        ({"traefik.ingress.kubernetes.io/redirect-permanent": "true"}, "has no effect"),
        (
            {
                "traefik.ingress.kubernetes.io/redirect-entry-point": "https",
                "traefik.ingress.kubernetes.io/redirect-permanent": "maybe",
            },
            "is not a boolean",
        ),
    ],
)
def test_bad_redirect_values(annotations: dict[str, str], fragment: str) -> None:
    route, diagnostics = compile_one(annotations)
    assert codes_of(diagnostics) == ["IC213"]
    assert fragment in diagnostics[0].message
    assert route.backend.problem is None  # the route still compiles


# ------------------------------------------------------------------ rule type and priority


@pytest.mark.parametrize(
    ("value", "path_type", "strip"),
    [
        ("PathPrefix", PathType.PREFIX, False),
        ("PathPrefixStrip", PathType.PREFIX, True),
        ("Path", PathType.EXACT, False),
        ("PathStrip", PathType.EXACT, True),
    ],
)
def test_rule_type_for_paths_without_path_type(value: str, path_type: PathType, strip: bool) -> None:
    route, diagnostics = compile_one({"traefik.frontend.rule.type": value}, path_type=None)
    assert (route.path_type, route.strip_prefix) == (path_type, strip)
    assert diagnostics == []
    impl, _ = compile_one({"traefik.frontend.rule.type": value}, path_type=IMPL)
    assert impl.path_type is path_type


def test_rule_type_keeps_declared_exact_or_prefix_but_records_strip() -> None:
    route, _ = compile_one({"traefik.frontend.rule.type": "PathStrip"}, path_type=PREFIX)
    assert (route.path_type, route.strip_prefix) == (PathType.PREFIX, True)
    exact, _ = compile_one({"traefik.frontend.rule.type": "PathPrefix"}, path_type=EXACT)
    assert exact.path_type is PathType.EXACT


def test_bad_rule_type() -> None:
    route, diagnostics = compile_one({"traefik.frontend.rule.type": "PathPrefixStripRegex"}, path_type=None)
    assert route.path_type is PathType.IMPLEMENTATION_SPECIFIC
    assert codes_of(diagnostics) == ["IC213"]


def test_priorities() -> None:
    assert compile_one({"traefik.frontend.priority": "7"})[0].priority == 7
    assert compile_one({"traefik.ingress.kubernetes.io/router.priority": " 12 "})[0].priority == 12
    both = {"traefik.frontend.priority": "7", "traefik.ingress.kubernetes.io/router.priority": "12"}
    assert compile_one(both)[0].priority == 12
    route, diagnostics = compile_one({"traefik.frontend.priority": "high"})
    assert route.priority == 0
    assert codes_of(diagnostics) == ["IC213"]
    assert "'high' is not an integer" in diagnostics[0].message


# ------------------------------------------------------------------ allow-list, entrypoints, tls


def test_whitelist_source_range() -> None:
    route, diagnostics = compile_one(
        {
            "ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8, 192.168.1.7 ,2001:db8::/32",
            "traefik.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8,172.16.0.1/12",
        }
    )
    assert diagnostics == []
    assert route.middlewares.allow_source_ranges == (
        "10.0.0.0/8",
        "192.168.1.7/32",
        "2001:db8::/32",
        "172.16.0.0/12",
    )


def test_whitelist_with_a_bad_entry_fails_closed() -> None:
    """A typo in an allow-list must never open the routes to everyone: every request is refused."""
    route, diagnostics = compile_one(
        {"ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8, 300.1.1.1"}
    )
    assert route.middlewares.allow_source_ranges == ("10.0.0.0/8",)
    assert route.backend.problem is BackendProblem.ACCESS_RULE_INVALID
    assert "300.1.1.1" in route.backend.problem_detail
    assert [(d.code, d.severity) for d in diagnostics] == [("IC213", Severity.ERROR)]
    assert "refuse every request" in diagnostics[0].message
    nothing_left, found = compile_one({"ingress.kubernetes.io/whitelist-source-range": "everyone"})
    assert nothing_left.middlewares.allow_source_ranges == ()
    assert nothing_left.backend.problem is BackendProblem.ACCESS_RULE_INVALID
    assert codes_of(found) == ["IC213"]
    empty, found = compile_one({"ingress.kubernetes.io/whitelist-source-range": " "})
    assert empty.backend.problem is BackendProblem.ACCESS_RULE_INVALID
    assert "empty" in found[0].message


def test_entrypoints() -> None:
    route, diagnostics = compile_one({"traefik.ingress.kubernetes.io/router.entrypoints": "web, websecure"})
    assert route.entrypoints == ("web", "websecure")
    assert diagnostics == []
    legacy, _ = compile_one({"traefik.frontend.entryPoints": "http,https"})
    assert legacy.entrypoints == ("http", "https")
    bad, found = compile_one({"traefik.ingress.kubernetes.io/router.entrypoints": "web;websecure"})
    assert bad.entrypoints == ()
    assert codes_of(found) == ["IC213"]
    empty, found = compile_one({"traefik.ingress.kubernetes.io/router.entrypoints": " , "})
    assert empty.entrypoints == ()
    assert codes_of(found) == ["IC213"]


def test_router_tls_values() -> None:
    yes, _ = compile_one({"traefik.ingress.kubernetes.io/router.tls": "TRUE"})
    assert yes.tls_only
    no, _ = compile_one({"traefik.ingress.kubernetes.io/router.tls": "false"})
    assert not no.tls_only and no.tls is None
    bad, found = compile_one({"traefik.ingress.kubernetes.io/router.tls": "sure"})
    assert not bad.tls_only
    assert codes_of(found) == ["IC213"]


# ------------------------------------------------------------------ service weights


def split_world(weights: str) -> tuple[list[Route], list[Diagnostic]]:
    snapshot = web_world(
        ingress(
            "canary",
            rule("h", path("/", service="v1"), path("/", service="v2"), path("/", service="v3")),
            annotations={"traefik.ingress.kubernetes.io/service-weights": weights},
        ),
        services=(service("v1"), service("v2"), service("v3")),
        endpoint_slices=(
            endpoint_slice("v1", ep("10.0.1.1"), ep("10.0.1.2")),
            endpoint_slice("v2", ep("10.0.2.1")),
            endpoint_slice("v3", ep("10.0.3.1")),
        ),
    )
    table, diagnostics = build(snapshot)
    return list(table.routes), diagnostics


def test_service_weights_split_one_path_between_services() -> None:
    routes, diagnostics = split_world("v1: 60%\nv2: 30%")
    assert diagnostics == []
    [route] = routes
    assert route.id == "default/canary#r0p0"
    assert route.backend.split == (("v1", 60.0), ("v2", 30.0), ("v3", 10.0))
    assert route.backend.upstreams == (
        Upstream("10.0.1.1", 8080, weight=3000),
        Upstream("10.0.1.2", 8080, weight=3000),
        Upstream("10.0.2.1", 8080, weight=3000),
        Upstream("10.0.3.1", 8080, weight=1000),
    )
    share = {"v1": 0, "v2": 0, "v3": 0}
    for upstream in route.backend.upstreams:
        share["v" + upstream.host.split(".")[2]] += upstream.weight
    assert share == {"v1": 6000, "v2": 3000, "v3": 1000}


@pytest.mark.parametrize("weights", ["v1: 80%\nv2: 40%", "v1 80%", "v1: lots", "v1: 0%", ": 50%"])
def test_bad_service_weights_are_ignored(weights: str) -> None:
    routes, diagnostics = split_world(weights)
    assert codes_of(diagnostics)[0] == "IC213"
    # Without weights the three identical paths are an ordinary conflict: the first path wins.
    assert [r.id for r in routes] == ["default/canary#r0p0"]
    assert "IC201" in codes_of(diagnostics)


def test_weighted_service_without_endpoints_leaves_the_others() -> None:
    snapshot = web_world(
        ingress(
            "canary",
            rule("h", path("/", service="v1"), path("/", service="gone")),
            annotations={"traefik.ingress.kubernetes.io/service-weights": "v1: 90%\ngone: 10%"},
        ),
        services=(service("v1"),),
        endpoint_slices=(endpoint_slice("v1", ep("10.0.1.1")),),
    )
    table, diagnostics = build(snapshot, require_services=True)
    [route] = table.routes
    assert route.backend.problem is None
    assert route.backend.upstreams == (Upstream("10.0.1.1", 8080, weight=9000),)
    assert codes_of(diagnostics) == ["IC203"]


# ------------------------------------------------------------------ the catalogue


def test_known_annotations_are_documented_and_covered_by_prefixes() -> None:
    for key, description in KNOWN_ANNOTATIONS.items():
        assert description and description.endswith("."), key
        # ingress-nginx keys ingressctl implements are known without making the whole ingress-nginx
        # prefix ours: its other keys stay "not supported" (IC307), not typos (IC302).
        if key != "kubernetes.io/ingress.class" and not key.startswith("nginx.ingress.kubernetes.io/"):
            assert key.startswith(ANNOTATION_PREFIXES), key
    assert "nginx.ingress.kubernetes.io/rewrite-target".startswith(ANNOTATION_PREFIXES)


def test_codes_are_documented() -> None:
    assert all(code.startswith("IC2") and text for code, text in CODES.items())
    assert len(CODES) == len(set(CODES.values()))
