"""`migrate --to gateway-api`: Ingresses and their annotations as Gateway API objects.

Golden-style on representative inputs (examples/, examples/ingress-nginx, Traefik 1.7 and ingress-nginx
fixtures): the produced objects are parsed back from the YAML stream and their structure asserted,
and every one is checked against the Gateway API v1 CRD rules (checks/to_gateway/schema.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ingressctl.checks.to_gateway import (
    EntrypointSpec,
    GatewayMigration,
    GatewayOptions,
    NoteKind,
    migrate_to_gateway,
    render_stream,
)
from ingressctl.checks.to_gateway.schema import check_all, check_object, dns_name, is_dns_name
from ingressctl.manifests import load_paths
from ingressctl.manifests.loader import load_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NGINX = "nginx.ingress.kubernetes.io/"


def migrate(*paths: Path, options: GatewayOptions | None = None) -> GatewayMigration:
    return migrate_to_gateway(load_paths([str(p) for p in paths]).snapshot, options or GatewayOptions())


def migrate_yaml(text: str, options: GatewayOptions | None = None) -> GatewayMigration:
    return migrate_to_gateway(load_text(text, "input.yaml").snapshot, options or GatewayOptions())


def objects(migration: GatewayMigration) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object, read back from the YAML stream the CLI writes."""
    documents = [d for d in yaml.safe_load_all(render_stream(migration.documents)) if d]
    assert check_all(documents) == []
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def rule_for(route: dict[str, Any], path: str, **match: Any) -> dict[str, Any]:
    for rule in route["spec"]["rules"]:
        for item in rule["matches"]:
            if item["path"]["value"] == path and all(item.get(k) == v for k, v in match.items()):
                return dict(rule)
    raise AssertionError(f"no rule for {path} in {route['metadata']['name']}")


def filters(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["type"]: f for f in rule.get("filters", [])}


def ingress(name: str, annotations: str = "", paths: str = "", host: str = "a.example.com") -> str:
    meta = f"  annotations:\n{annotations}" if annotations else ""
    paths = paths or (
        "          - path: /\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n"
    )
    return (
        f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n"
        f"  namespace: default\n{meta}spec:\n  rules:\n    - host: {host}\n"
        f"      http:\n        paths:\n{paths}"
    )


# ---------------------------------------------------------------- Traefik 1.7 / v2


def test_traefik_annotations_become_listeners_filters_and_a_redirect_route() -> None:
    migration = migrate(FIXTURES / "test_to_gateway_traefik.yaml")
    found = objects(migration)
    gateway = found[("Gateway", "ingressctl")]
    listeners = {x["name"]: x for x in gateway["spec"]["listeners"]}
    assert sorted(listeners) == [
        "http",
        "https-admin.example.com",
        "https-legacy.example.com",
        "https-shop.example.com",
    ]
    assert listeners["http"]["port"] == 80 and "hostname" not in listeners["http"]
    shop_listener = listeners["https-shop.example.com"]
    assert (shop_listener["protocol"], shop_listener["port"], shop_listener["hostname"]) == (
        "HTTPS",
        443,
        "shop.example.com",
    )
    # The Secret stays in the Ingress's namespace: named with it, and granted to the Gateway.
    assert shop_listener["tls"] == {
        "mode": "Terminate",
        "certificateRefs": [{"kind": "Secret", "name": "shop-tls", "namespace": "shop"}],
    }
    selector = shop_listener["allowedRoutes"]["namespaces"]
    assert selector["from"] == "Selector"
    assert selector["selector"]["matchExpressions"][0]["values"] == ["default", "shop"]
    grant = found[("ReferenceGrant", "gateway-default-ingressctl-secrets")]
    assert grant["metadata"]["namespace"] == "shop"
    assert grant["spec"]["from"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "default"}
    ]
    assert grant["spec"]["to"] == [{"group": "", "kind": "Secret", "name": "shop-tls"}]

    # ssl-redirect: the route serves HTTPS only; plain HTTP gets a redirect route.
    shop = found[("HTTPRoute", "shop-shop.example.com")]
    assert shop["metadata"]["namespace"] == "shop"
    assert shop["spec"]["hostnames"] == ["shop.example.com"]
    assert shop["spec"]["parentRefs"] == [
        {"name": "ingressctl", "namespace": "default", "sectionName": "https-shop.example.com"}
    ]
    api = rule_for(shop, "/api")
    assert api["matches"][0]["path"]["type"] == "PathPrefix"
    applied = filters(api)
    assert applied["RequestHeaderModifier"]["requestHeaderModifier"] == {
        "set": [{"name": "X-Env", "value": "prod"}],
        "remove": ["X-Debug"],
    }
    response = applied["ResponseHeaderModifier"]["responseHeaderModifier"]["set"]
    assert {"name": "X-Frame-Options", "value": "DENY"} in response
    assert {"name": "Strict-Transport-Security", "value": "max-age=31536000"} in response
    assert {"name": "X-Served-By", "value": "shop"} in response
    # PathPrefixStrip: the matched prefix goes.
    assert applied["URLRewrite"]["urlRewrite"] == {
        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
    }
    assert api["backendRefs"] == [{"name": "api", "port": 8080}]
    # The named port `http` is looked up in the Service of the input.
    assert rule_for(shop, "/")["backendRefs"] == [{"name": "web", "port": 8000}]
    redirect = found[("HTTPRoute", "shop-shop.example.com-redirect")]
    assert redirect["spec"]["parentRefs"] == [
        {"name": "ingressctl", "namespace": "default", "sectionName": "http"}
    ]
    for rule in redirect["spec"]["rules"]:
        assert "backendRefs" not in rule
        assert filters(rule)["RequestRedirect"]["requestRedirect"] == {"scheme": "https", "statusCode": 301}

    # service-weights: one rule, weighted backendRefs.
    split = found[("HTTPRoute", "split-app.example.com")]
    assert rule_for(split, "/")["backendRefs"] == [
        {"name": "app-v1", "port": 80, "weight": 9000},
        {"name": "app-v2", "port": 80, "weight": 1000},
    ]

    # request-modifier AddPrefix on an Exact path; redirect-entry-point https (302: not permanent).
    legacy = found[("HTTPRoute", "legacy-legacy.example.com")]
    assert filters(
        rule_for(
            legacy,
            "/exact",
        )
    )["URLRewrite"]["urlRewrite"] == {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/v1/exact"}}
    legacy_redirect = found[("HTTPRoute", "legacy-legacy.example.com-redirect")]
    assert (
        filters(rule_for(legacy_redirect, "/exact"))["RequestRedirect"]["requestRedirect"]["statusCode"]
        == 302
    )
    # defaultBackend: a catch-all route without hostnames.
    fallback = found[("HTTPRoute", "legacy-default-backend")]
    assert "hostnames" not in fallback["spec"]
    assert fallback["spec"]["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert fallback["spec"]["rules"][0]["backendRefs"] == [{"name": "fallback", "port": 80}]

    # router.entrypoints https: only the https listeners of its host.
    admin = found[("HTTPRoute", "admin-admin.example.com")]
    assert admin["spec"]["parentRefs"] == [{"name": "ingressctl", "sectionName": "https-admin.example.com"}]


def test_an_allow_list_that_cannot_be_carried_is_unprotected_and_said_on_the_route() -> None:
    migration = migrate(FIXTURES / "test_to_gateway_traefik.yaml")
    unprotected = migration.unprotected
    assert [(n.subject, n.key) for n in unprotected] == [
        ("Ingress default/admin", "ingress.kubernetes.io/whitelist-source-range")
    ]
    assert unprotected[0].where.endswith("test_to_gateway_traefik.yaml:96:5")
    admin = next(
        d for d in migration.documents if d.document["metadata"]["name"] == "admin-admin.example.com"
    )
    comment = next(c for c in admin.comments if "whitelist-source-range" in c)
    assert comment.startswith("NOT MIGRATED, PROTECTION: ingress.kubernetes.io/whitelist-source-range")
    assert "served OPEN: do not apply it before adding the equivalent policy" in comment
    lost = {n.key: n for n in migration.notes if n.kind is NoteKind.LOST}
    assert "traefik.ingress.kubernetes.io/service.sticky.cookie" in lost
    changed = {n.key for n in migration.notes if n.kind is NoteKind.CHANGED}
    assert "traefik.ingress.kubernetes.io/priority" in changed
    assert migration.problems == []


def test_entrypoints_become_listeners_named_after_them() -> None:
    text = ingress("admin", "    traefik.ingress.kubernetes.io/router.entrypoints: websecure\n")
    tls = "  tls:\n    - hosts: [a.example.com]\n      secretName: a-tls\n"
    text = text.replace("spec:\n", "spec:\n" + tls)
    options = GatewayOptions(
        entrypoints=(EntrypointSpec("web", 8000), EntrypointSpec("websecure", 8443, True))
    )
    found = objects(migrate_yaml(text, options))
    listeners = {x["name"]: x["port"] for x in found[("Gateway", "ingressctl")]["spec"]["listeners"]}
    assert listeners == {"web": 8000, "websecure-a.example.com": 8443}
    route = found[("HTTPRoute", "admin-a.example.com")]
    assert route["spec"]["parentRefs"] == [{"name": "ingressctl", "sectionName": "websecure-a.example.com"}]
    # With the default entrypoints there is no `websecure`: the route is not written, and that is a problem.
    default = migrate_yaml(text)
    assert [n.text for n in default.problems] == [
        "no listener of the Gateway serves entrypoints websecure for a.example.com: declare them with "
        "--entrypoint NAME=:PORT[,tls]"
    ]
    assert not [d for d in default.documents if d.document["kind"] == "HTTPRoute"]


def test_rule_type_replace_path_and_rewrite_target_fold_into_one_url_rewrite() -> None:
    text = ingress(
        "r",
        "    traefik.ingress.kubernetes.io/rewrite-target: /new\n"
        '    traefik.ingress.kubernetes.io/request-modifier: "AddPrefix: /v2"\n',
        "          - path: /old\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n",
    )
    route = objects(migrate_yaml(text))[("HTTPRoute", "r-a.example.com")]
    # /old/x → rewrite-target → /new/x → AddPrefix → /v2/new/x
    assert filters(rule_for(route, "/old"))["URLRewrite"]["urlRewrite"]["path"] == {
        "type": "ReplacePrefixMatch",
        "replacePrefixMatch": "/v2/new",
    }


def test_implementation_specific_is_path_prefix_with_a_comment() -> None:
    text = ingress(
        "is",
        paths="          - path: /app\n            pathType: ImplementationSpecific\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n",
    )
    migration = migrate_yaml(text)
    route = objects(migration)[("HTTPRoute", "is-a.example.com")]
    assert rule_for(route, "/app")["matches"][0]["path"]["type"] == "PathPrefix"
    document = next(d for d in migration.documents if d.document["kind"] == "HTTPRoute")
    assert any("ImplementationSpecific paths are written as PathPrefix" in c for c in document.comments)


# ---------------------------------------------------------------- ingress-nginx


def test_nginx_canary_redirects_headers_and_host_rewrite() -> None:
    migration = migrate(FIXTURES / "test_to_gateway_nginx.yaml")
    found = objects(migration)
    app = found[("HTTPRoute", "app-app.example.com")]
    assert app["spec"]["parentRefs"] == [{"name": "ingressctl", "sectionName": "https-app.example.com"}]
    # canary-weight 20 of 100: 80/20, reduced.
    weighted = rule_for(app, "/", headers=None)
    assert weighted["backendRefs"] == [
        {"name": "app", "port": 80, "weight": 4},
        {"name": "app-next", "port": 80, "weight": 1},
    ]
    # canary-by-header: "always" goes to the canary, "never" to the main Service.
    always = rule_for(app, "/", headers=[{"type": "Exact", "name": "X-Canary", "value": "always"}])
    never = rule_for(app, "/", headers=[{"type": "Exact", "name": "X-Canary", "value": "never"}])
    assert always["backendRefs"] == [{"name": "app-next", "port": 80}]
    assert never["backendRefs"] == [{"name": "app", "port": 80}]
    applied = filters(weighted)
    assert applied["URLRewrite"]["urlRewrite"] == {"hostname": "internal.app.svc"}
    assert applied["RequestHeaderModifier"]["requestHeaderModifier"] == {
        "set": [{"name": "X-Forwarded-Prefix", "value": "/app"}]
    }
    # The canary Ingress gives no route of its own.
    assert not [k for k in found if k[1].startswith("app-canary")]
    # force-ssl-redirect: 308 (the method is kept), Extended support in the Gateway API, said in a note.
    redirect = found[("HTTPRoute", "app-app.example.com-redirect")]
    assert [filters(r)["RequestRedirect"]["requestRedirect"] for r in redirect["spec"]["rules"]] == [
        {"scheme": "https", "statusCode": 308}
    ]
    # permanent-redirect: every rule redirects, none forwards.
    moved = found[("HTTPRoute", "moved-old.example.com")]
    assert [r.get("backendRefs") for r in moved["spec"]["rules"]] == [None]
    assert filters(moved["spec"]["rules"][0])["RequestRedirect"]["requestRedirect"] == {
        "scheme": "https",
        "hostname": "new.example.com",
        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/landing"},
        "statusCode": 308,  # permanent-redirect-code: "308", kept
    }
    # app-root: an Exact / rule redirecting to it, in the Ingress's namespace with the Gateway's.
    portal = found[("HTTPRoute", "portal-portal.example.com")]
    assert portal["metadata"]["namespace"] == "web"
    assert portal["spec"]["parentRefs"] == [{"name": "ingressctl", "namespace": "default"}]
    root = rule_for(
        portal,
        "/",
    )
    assert root["matches"][0]["path"]["type"] == "Exact"
    assert filters(root)["RequestRedirect"]["requestRedirect"] == {
        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/portal"},
        "statusCode": 302,
    }
    notes = {(n.kind, n.key) for n in migration.notes}
    assert (NoteKind.LOST, NGINX + "proxy-body-size") in notes
    assert (NoteKind.LOST, NGINX + "backend-protocol") in notes
    assert (NoteKind.MIGRATED, NGINX + "force-ssl-redirect") in notes
    (forced,) = [n for n in migration.notes if n.key == NGINX + "force-ssl-redirect"]
    assert "statusCode 308 is Extended support (HTTPRoute308RedirectStatusCode" in forced.text
    assert migration.unprotected == [] and migration.problems == []


def test_nginx_examples_rewrite_idiom_regex_paths_and_refused_protections() -> None:
    migration = migrate(ROOT / "examples" / "ingress-nginx")
    found = objects(migration)
    rewrite = found[("HTTPRoute", "rewrite-rewrite.bar.com")]
    # /something(/|$)(.*) with rewrite-target /$2: strip the prefix.
    rule = rule_for(rewrite, "/something")
    assert rule["matches"][0]["path"]["type"] == "PathPrefix"
    assert filters(rule)["URLRewrite"]["urlRewrite"]["path"] == {
        "type": "ReplacePrefixMatch",
        "replacePrefixMatch": "/",
    }
    regex = found[("HTTPRoute", "test-ingress-2-test.com")]
    assert regex["spec"]["rules"][0]["matches"][0]["path"] == {
        "type": "RegularExpression",
        "value": "/foo/bar/(.+).*",
    }
    # ingress-nginx makes the whole host regex: /foo/bar and /foo/bar/ stay two prefixes.
    plain = found[("HTTPRoute", "test-ingress-1-test.com")]
    assert [r["matches"][0]["path"]["value"] for r in plain["spec"]["rules"]] == ["/foo/bar", "/foo/bar/"]
    unprotected = {(n.subject, n.key) for n in migration.unprotected}
    assert unprotected == {
        ("Ingress default/external-auth", NGINX + "auth-url"),
        ("Ingress default/nginx-configuration-snippet", NGINX + "configuration-snippet"),
    }
    lost = [
        n
        for n in migration.notes
        if n.kind is NoteKind.LOST and n.subject == "Ingress default/test-ingress-2"
    ]
    assert "rewrite-target '/$1' refers to groups of the path" in lost[0].text


def test_examples_v1_basic_auth_is_unprotected_and_named_ports_resolve() -> None:
    migration = migrate(ROOT / "examples" / "v1")
    assert {n.key for n in migration.unprotected} == {
        "ingress.kubernetes.io/auth-type",
        "ingress.kubernetes.io/auth-secret",
    }
    found = objects(migration)
    assert rule_for(found[("HTTPRoute", "seedbox-h5ai.example.test")], "/")["backendRefs"] == [
        {"name": "h5ai", "port": 80}
    ]


def test_a_named_port_without_its_service_is_a_problem_not_a_guess() -> None:
    text = ingress(
        "np",
        paths="          - path: /\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {name: http}}}\n",
    )
    migration = migrate_yaml(text)
    assert [n.kind for n in migration.problems] == [NoteKind.PROBLEM]
    assert "port 'http'" in migration.problems[0].text
    route = objects(migration)[("HTTPRoute", "np-a.example.com")]
    assert "backendRefs" not in route["spec"]["rules"][0]  # the Gateway answers 500: nothing guessed


def test_a_refused_value_of_a_security_annotation_fails_closed() -> None:
    migration = migrate_yaml(ingress("bad", '    ingress.kubernetes.io/ssl-redirect: "maybe"\n'))
    assert [n.kind for n in migration.unprotected] == [NoteKind.UNPROTECTED]
    assert "ingressctl refuses this Ingress" in migration.unprotected[0].text


# ---------------------------------------------------------------- limits, names, determinism


def test_a_route_over_the_crd_limits_is_split() -> None:
    paths = "".join(
        f"          - path: /p{i}\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n"
        for i in range(40)
    )
    migration = migrate_yaml(ingress("many", paths=paths))
    found = objects(migration)
    sizes = {name: len(d["spec"]["rules"]) for (kind, name), d in found.items() if kind == "HTTPRoute"}
    assert sizes == {"many-a.example.com": 16, "many-a.example.com-2": 16, "many-a.example.com-3": 8}


def test_the_schema_check_refuses_what_the_crds_refuse() -> None:
    route: dict[str, object] = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "Bad_Name", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "hostnames": ["10.0.0.1"],
            "rules": [
                {
                    "matches": [{"path": {"type": "Exact", "value": "/x"}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                        },
                        {"type": "RequestRedirect", "requestRedirect": {"statusCode": 304}},
                    ],
                    "backendRefs": [{"name": "web"}],
                }
            ]
            * 17,
        },
    }
    problems = "\n".join(check_object(route))
    assert "not a DNS-1123 subdomain" in problems
    assert "'10.0.0.1' is not a hostname" in problems
    assert "spec.rules holds 17" in problems
    assert "ReplacePrefixMatch needs PathPrefix" in problems
    assert "RequestRedirect cannot stand with URLRewrite or backendRefs" in problems
    assert "statusCode 304: 301, 302, 303, 307 or 308" in problems
    assert "a Service needs a port number" in problems


def test_names_are_dns_1123_and_long_ones_stay_distinct() -> None:
    assert dns_name("Web_App-*.Example.COM") == "web-app-wildcard.example.com"
    long_a, long_b = dns_name("a" * 300 + "x"), dns_name("a" * 300 + "y")
    assert is_dns_name(long_a) and is_dns_name(long_b) and long_a != long_b


def test_output_is_deterministic_whatever_the_input_order() -> None:
    files = [FIXTURES / "test_to_gateway_traefik.yaml", FIXTURES / "test_to_gateway_nginx.yaml"]
    first = render_stream(migrate(*files).documents)
    second = render_stream(migrate(*reversed(files)).documents)
    assert first == second
    assert first == render_stream(migrate(*files).documents)


def test_wildcard_hosts_and_paths_the_crd_refuses() -> None:
    text = ingress(
        "wild",
        paths="          - path: /\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n"
        "          - path: /a%2fb\n            pathType: Prefix\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n"
        "          - path: /caf%C3%A9\n            pathType: Exact\n"
        "            backend: {service: {name: web, port: {number: 80}}}\n",
        host='"*.example.com"',
    ).replace("spec:\n", 'spec:\n  tls:\n    - hosts: ["*.example.com"]\n      secretName: wild-tls\n')
    migration = migrate_yaml(text)
    found = objects(migration)
    listener = found[("Gateway", "ingressctl")]["spec"]["listeners"][1]
    assert (listener["name"], listener["hostname"]) == ("https-wildcard.example.com", "*.example.com")
    route = found[("HTTPRoute", "wild-wildcard.example.com")]
    assert route["spec"]["hostnames"] == ["*.example.com"]
    assert [r["matches"][0]["path"]["value"] for r in route["spec"]["rules"]] == ["/", "/caf%C3%A9"]
    assert [n.text for n in migration.problems] == [
        "path '/a%2fb' holds characters the CRD refuses (?, #, %2F, %5C, spaces, ...): this path of "
        "*.example.com is not migrated"
    ]


def test_a_canary_without_its_main_ingress_serves_nothing() -> None:
    text = ingress(
        "lonely",
        '    nginx.ingress.kubernetes.io/canary: "true"\n'
        '    nginx.ingress.kubernetes.io/canary-weight: "50"\n',
    )
    migration = migrate_yaml(text)
    assert not [d for d in migration.documents if d.document["kind"] == "HTTPRoute"]
    assert [n.text for n in migration.notes if n.kind is NoteKind.LOST] == [
        "the canary for a.example.com / in default has no main Ingress with the same host and path: it "
        "serves nothing (as in ingress-nginx) and is not migrated"
    ]


def test_a_tls_entry_without_hosts_gives_an_https_listener_for_every_host() -> None:
    text = ingress("any").replace("spec:\n", "spec:\n  tls:\n    - secretName: default-tls\n")
    found = objects(migrate_yaml(text))
    listeners = found[("Gateway", "ingressctl")]["spec"]["listeners"]
    assert listeners[1] == {
        "name": "https",
        "port": 443,
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "default-tls"}]},
        "allowedRoutes": {"namespaces": {"from": "Same"}},
    }
    # The route attaches to both listeners (no sectionName).
    assert found[("HTTPRoute", "any-a.example.com")]["spec"]["parentRefs"] == [{"name": "ingressctl"}]


def test_a_feature_switched_off_loses_nothing_but_a_protection_stays_refused() -> None:
    migration = migrate_yaml(
        ingress(
            "switched",
            '    nginx.ingress.kubernetes.io/ssl-redirect: "false"\n'
            '    nginx.ingress.kubernetes.io/proxy-buffering: "off"\n'
            '    nginx.ingress.kubernetes.io/enable-modsecurity: "false"\n',
        )
    )
    assert [(n.kind, n.key) for n in migration.notes if n.kind is not NoteKind.MIGRATED] == [
        (NoteKind.UNPROTECTED, NGINX + "enable-modsecurity")
    ]


def test_traefik_ssl_redirect_not_permanent_is_a_302_and_nothing_is_lost() -> None:
    text = ingress(
        "tmp",
        '    ingress.kubernetes.io/ssl-redirect: "true"\n'
        '    traefik.ingress.kubernetes.io/redirect-permanent: "false"\n',
    ).replace("spec:\n", "spec:\n  tls:\n    - hosts: [a.example.com]\n      secretName: a-tls\n")
    migration = migrate_yaml(text)
    redirect = objects(migration)[("HTTPRoute", "tmp-a.example.com-redirect")]
    assert filters(redirect["spec"]["rules"][0])["RequestRedirect"]["requestRedirect"] == {
        "scheme": "https",
        "statusCode": 302,
    }
    assert [n for n in migration.notes if n.kind is not NoteKind.MIGRATED] == []


def test_307_and_308_are_written_as_they_are_with_a_note_on_extended_support() -> None:
    """RequestRedirect.statusCode takes 303, 307 and 308 (Extended) besides 301 and 302 (Core):
    kubernetes-sigs/gateway-api apis/v1/httproute_types.go, HTTPRequestRedirectFilter.StatusCode."""
    nginx = "nginx.ingress.kubernetes.io/"
    text = "---\n".join(
        [
            ingress(
                "moved",
                f"    {nginx}permanent-redirect: https://new.example.com/x\n"
                f'    {nginx}permanent-redirect-code: "307"\n',
            ),
            ingress("forced", f'    {nginx}force-ssl-redirect: "true"\n', host="b.example.com").replace(
                "spec:\n", "spec:\n  tls:\n    - hosts: [b.example.com]\n      secretName: b-tls\n"
            ),
            ingress(
                "plain",
                f"    {nginx}permanent-redirect: https://new.example.com/y\n",
                host="c.example.com",
            ),
        ]
    )
    migration = migrate_yaml(text)
    found = objects(migration)  # the schema check (the CRD's enum) passes
    moved = found[("HTTPRoute", "moved-a.example.com")]["spec"]["rules"][0]
    assert filters(moved)["RequestRedirect"]["requestRedirect"]["statusCode"] == 307
    forced = found[("HTTPRoute", "forced-b.example.com-redirect")]["spec"]["rules"][0]
    assert filters(forced)["RequestRedirect"]["requestRedirect"]["statusCode"] == 308
    plain = found[("HTTPRoute", "plain-c.example.com")]["spec"]["rules"][0]
    assert filters(plain)["RequestRedirect"]["requestRedirect"]["statusCode"] == 301
    texts = [n.text for n in migration.notes]
    assert any("statusCode 307 is Extended support (HTTPRoute307RedirectStatusCode" in t for t in texts)
    assert any("statusCode 308 is Extended support (HTTPRoute308RedirectStatusCode" in t for t in texts)
    assert not any("statusCode 301" in t for t in texts)
    assert [n for n in migration.notes if n.kind is NoteKind.CHANGED and "written as" in n.text] == []
