"""More of ingress-nginx, compiled from YAML as `validate` reads it: request-selected canaries,
service-upstream, server-alias, enable-access-log and the ssl-redirect default of takeover mode.

Expected behaviour from ingress-nginx's annotations page
(https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/), sections
"Canary", "Service Upstream", "Server Alias", "Enable Access Log" and "Server-side HTTPS enforcement
through redirect".
"""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from ingressctl.manifests.loader import load_text
from ingressctl.model import Diagnostic, Severity
from ingressctl.model.canary import CanaryRules
from ingressctl.proxy.canary import CanaryChoice
from ingressctl.routing import CompileOptions, RoutingTable, compile
from ingressctl.routing.chain import chain_descriptions, chain_labels

N = "nginx.ingress.kubernetes.io/"


def ingress_yaml(
    name: str, host: str, service: str, annotations: dict[str, str], extra_spec: str = ""
) -> str:
    notes = "".join(f"    {key}: {value!r}\n" for key, value in annotations.items())
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: default
  creationTimestamp: "2024-01-0{1 if name == "main" else 2}T00:00:00Z"
  annotations:
    team: web
{notes}spec:
  ingressClassName: nginx
{extra_spec}  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"""


def service_yaml(name: str, address: str, cluster_ip: str = "") -> str:
    ip = f"  clusterIP: {cluster_ip}\n" if cluster_ip else ""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
{ip}  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
- addresses: ["{address}"]
"""


def compiled(*documents: str, **options: object) -> tuple[RoutingTable, list[Diagnostic], str]:
    text = "---\n".join(
        [service_yaml("web", "10.0.0.1", "10.96.0.10"), service_yaml("new", "10.0.0.2"), *documents]
    )
    loaded = load_text(text, "app.yaml")
    takeover = {"ingress_class": "nginx", "controller_name": "k8s.io/ingress-nginx", **options}
    table, diagnostics = compile(loaded.snapshot, CompileOptions(**takeover))  # type: ignore[arg-type]
    return table, diagnostics, text


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ------------------------------------------ canary by header / cookie ("Canary")


def canary_pair(**canary: str) -> tuple[RoutingTable, list[Diagnostic], str]:
    notes = {N + "canary": "true", **{N + key.replace("_", "-"): value for key, value in canary.items()}}
    return compiled(ingress_yaml("main", "a.test", "web", {}), ingress_yaml("canary", "a.test", "new", notes))


def test_a_header_canary_keeps_the_main_backend_and_carries_its_own() -> None:
    table, diagnostics, _ = canary_pair(canary_by_header="X-Canary", canary_weight="10")
    [route] = table.routes
    assert [u.host for u in route.backend.upstreams] == ["10.0.0.1"]  # no weighted merge
    canary = route.middlewares.canary
    assert canary is not None and [u.host for u in canary.backend.upstreams] == ["10.0.0.2"]
    assert canary.rules == CanaryRules(header="X-Canary", weight=10, total=100)
    assert chain_labels(route)[-1] == "canary->default/new:80"
    effect = str(chain_descriptions(route)[-1]["effect"])
    assert "header X-Canary: always → canary, never → main" in effect
    assert "otherwise 10/100" in effect
    assert not [d for d in diagnostics if d.severity is not Severity.INFO]


def test_canary_value_pattern_and_cookie_are_parsed() -> None:
    table, _, _ = canary_pair(
        canary_by_header="X-Region", canary_by_header_value="eu", canary_by_cookie="beta"
    )
    canary = table.routes[0].middlewares.canary
    assert canary is not None
    assert canary.rules == CanaryRules(header="X-Region", header_value="eu", cookie="beta")
    table, _, _ = canary_pair(canary_by_header="X-User", canary_by_header_pattern="^(alice|bob)$")
    canary = table.routes[0].middlewares.canary
    assert canary is not None and canary.rules.header_pattern == "^(alice|bob)$"


def test_bad_canary_rules_are_warnings_at_their_line() -> None:
    table, diagnostics, text = canary_pair(
        canary_by_header="X-User", canary_by_header_pattern="a(?=b)", canary_by_cookie="no good"
    )
    warnings = {d.message.split(": ")[1]: d for d in diagnostics if d.code == "IC213"}
    pattern = warnings[f"annotation {N}canary-by-header-pattern"]
    assert pattern.severity is Severity.WARNING and "linear time" in pattern.message
    assert pattern.location is not None and pattern.location.line == line_of(text, "canary-by-header-pattern")
    cookie = warnings[f"annotation {N}canary-by-cookie"]
    assert cookie.location is not None and cookie.location.line == line_of(text, "canary-by-cookie")
    canary = table.routes[0].middlewares.canary
    assert canary is not None and canary.rules == CanaryRules(header="X-User")
    _, diagnostics, text = canary_pair(canary_by_header_value="eu", canary_weight="5")
    [alone] = [d for d in diagnostics if d.code == "IC213"]
    assert "needs canary-by-header" in alone.message
    assert alone.location is not None and alone.location.line == line_of(text, "canary-by-header-value")


def test_a_refused_main_route_takes_no_canary() -> None:
    table, _, _ = compiled(
        ingress_yaml("main", "a.test", "web", {N + "auth-type": "digest"}),
        ingress_yaml("canary", "a.test", "new", {N + "canary": "true", N + "canary-by-header": "X-C"}),
    )
    [route] = table.routes
    assert route.backend.problem is not None and route.middlewares.canary is None


def choice(rules: CanaryRules, draw: float = 0.99) -> CanaryChoice:
    return CanaryChoice(rules, draw=lambda: draw)


def to_canary(decider: CanaryChoice, headers: dict[str, str]) -> bool:
    return decider.to_canary(make_mocked_request("GET", "/", headers=headers))


def test_the_order_is_header_then_cookie_then_weight() -> None:
    rules = CanaryRules(header="X-Canary", cookie="beta", weight=50)
    assert to_canary(choice(rules), {"X-Canary": "always", "Cookie": "beta=never"})
    assert not to_canary(choice(rules, draw=0.0), {"X-Canary": "never", "Cookie": "beta=always"})
    assert to_canary(choice(rules), {"X-Canary": "maybe", "Cookie": "beta=always"})
    assert not to_canary(choice(rules, draw=0.0), {"Cookie": "beta=never"})
    assert to_canary(choice(rules, draw=0.49), {})  # 50/100: a draw under one half
    assert not to_canary(choice(rules, draw=0.5), {})


def test_a_header_value_or_pattern_replaces_always_and_never() -> None:
    valued = choice(CanaryRules(header="X-Region", header_value="eu"))
    assert to_canary(valued, {"X-Region": "eu"})
    assert not to_canary(valued, {"X-Region": "always"})
    patterned = choice(CanaryRules(header="X-User", header_pattern="^(alice|bob)$", cookie="c"))
    assert to_canary(patterned, {"X-User": "bob"})
    assert not to_canary(patterned, {"X-User": "carol"})
    # "never" is only special without a value or pattern: here it falls through to the cookie.
    assert to_canary(patterned, {"X-User": "never", "Cookie": "c=always"})


# ------------------------------------------ ssl-redirect default ("Server-side HTTPS enforcement")

TLS = "  tls:\n  - hosts: [a.test]\n"


def https_redirect(table: RoutingTable) -> dict[str, object] | None:
    [route] = table.routes
    found = [d for d in chain_descriptions(route) if d["name"] == "redirect" and "https" in str(d["effect"])]
    return found[0] if found else None


def test_takeover_redirects_tls_hosts_by_default_as_ingress_nginx() -> None:
    table, _, _ = compiled(ingress_yaml("main", "a.test", "web", {}, TLS))
    redirect = https_redirect(table)
    assert redirect is not None and redirect["status"] == 308
    assert redirect["source"] == "ingress-nginx default ssl-redirect (takeover mode)"
    # A host without TLS is not redirected; ssl-redirect "false" switches it off.
    assert https_redirect(compiled(ingress_yaml("main", "a.test", "web", {}))[0]) is None
    off = compiled(ingress_yaml("main", "a.test", "web", {N + "ssl-redirect": "false"}, TLS))[0]
    assert https_redirect(off) is None


def test_outside_takeover_the_redirect_must_be_written() -> None:
    own = {"ingress_class": "ingressctl", "controller_name": "ingressctl.io/ingress-controller"}
    text = ingress_yaml("main", "a.test", "web", {}, TLS).replace(
        "ingressClassName: nginx", "ingressClassName: ingressctl"
    )
    assert https_redirect(compiled(text, **own)[0]) is None
    written = ingress_yaml("main", "a.test", "web", {N + "ssl-redirect": "true"}, TLS)
    table = compiled(written.replace("ingressClassName: nginx", "ingressClassName: ingressctl"), **own)[0]
    assert https_redirect(table) is not None
    # Traefik's class, served in takeover mode too, keeps Traefik's default.
    traefik = compiled(
        ingress_yaml("main", "a.test", "web", {}, TLS).replace(
            "ingressClassName: nginx", "ingressClassName: traefik"
        )
    )
    assert https_redirect(traefik[0]) is None


def test_validate_from_ingress_nginx_reports_the_default() -> None:
    from ingressctl.checks.migration import migration_report

    text = "---\n".join([service_yaml("web", "10.0.0.1"), ingress_yaml("main", "a.test", "web", {}, TLS)])
    snapshot = load_text(text, "app.yaml").snapshot
    for options, status in (
        (CompileOptions(ingress_class="nginx", controller_name="k8s.io/ingress-nginx"), "supported"),
        (CompileOptions(ingress_class="nginx-new"), "changes"),
    ):
        report = migration_report(snapshot, options, [])
        [ingress] = report.ingresses
        [outcome] = [o for o in ingress.annotations if o.key == N + "ssl-redirect"]
        assert (outcome.value, outcome.status.value) == ("(not written)", status)
        assert "308" in outcome.detail


def test_migrate_writes_the_default_out_when_the_class_moves() -> None:
    from ingressctl.checks.migrate_nginx import migrate_nginx_text

    text = ingress_yaml("main", "a.test", "web", {}, TLS)
    moved = migrate_nginx_text(text, "app.yaml", "ingressctl")
    assert f'{N}ssl-redirect: "true"  # ingressctl: ingress-nginx\'s default, written out' in moved.text
    assert "ingressClassName: ingressctl" in moved.text
    again = migrate_nginx_text(moved.text, "app.yaml", "ingressctl")
    assert again.text == moved.text  # nothing added twice
    plain = migrate_nginx_text(ingress_yaml("main", "a.test", "web", {}), "app.yaml", "ingressctl")
    assert "ssl-redirect" not in plain.text  # no TLS: nothing to keep
    takeover = migrate_nginx_text(text, "app.yaml", "nginx")
    assert "ssl-redirect" not in takeover.text  # takeover keeps ingress-nginx's default itself


# ------------------------------------------ service-upstream, server-alias, enable-access-log


def test_service_upstream_sends_to_the_cluster_ip_and_service_port() -> None:
    table, diagnostics, _ = compiled(ingress_yaml("main", "a.test", "web", {N + "service-upstream": "true"}))
    [route] = table.routes
    assert [(u.host, u.port) for u in route.backend.upstreams] == [("10.96.0.10", 80)]
    assert not [d for d in diagnostics if d.code == "IC213"]


def test_service_upstream_without_a_cluster_ip_keeps_the_endpoints_and_warns() -> None:
    table, diagnostics, text = compiled(
        ingress_yaml("main", "a.test", "new", {N + "service-upstream": "true"})
    )
    [route] = table.routes
    assert [(u.host, u.port) for u in route.backend.upstreams] == [("10.0.0.2", 8080)]
    [warning] = [d for d in diagnostics if d.code == "IC213"]
    assert "has no cluster IP" in warning.message and warning.severity is Severity.WARNING
    assert warning.location is not None and warning.location.line == line_of(text, "service-upstream")


def test_server_alias_serves_every_route_of_the_host() -> None:
    aliased = ingress_yaml("main", "a.test", "web", {N + "server-alias": "www.a.test, *.b.test"})
    other = ingress_yaml("other", "a.test", "new", {}).replace("path: /\n", "path: /api\n")
    table, diagnostics, _ = compiled(aliased, other)
    assert {(r.host, r.path, r.backend.service) for r in table.routes} == {
        (host, path, service)
        for host in ("a.test", "www.a.test", "*.b.test")
        for path, service in (("/", "web"), ("/api", "new"))
    }
    match = table.match("x.b.test", "/api/v1")
    assert match is not None and match.route.id == "default/other#r0p0#alias=*.b.test"
    assert not [d for d in diagnostics if d.severity is not Severity.INFO]


def test_an_alias_a_rule_names_is_ignored_with_a_warning_at_its_line() -> None:
    aliased = ingress_yaml("main", "a.test", "web", {N + "server-alias": "b.test, -bad-"})
    table, diagnostics, text = compiled(aliased, ingress_yaml("other", "b.test", "new", {}))
    assert sorted((r.host or "", r.backend.service) for r in table.routes) == [
        ("a.test", "web"),
        ("b.test", "new"),
    ]
    found = sorted((d.code, d.severity.value) for d in diagnostics if "server-alias" in d.message)
    assert found == [("IC201", "warning"), ("IC213", "warning")]
    for warning in (d for d in diagnostics if "server-alias" in d.message):
        assert warning.location is not None and warning.location.line == line_of(text, "server-alias")


def test_enable_access_log_false_is_shown_in_the_chain() -> None:
    table, _, _ = compiled(ingress_yaml("main", "a.test", "web", {N + "enable-access-log": "false"}))
    [route] = table.routes
    assert route.middlewares.access_log is False
    assert chain_labels(route) == ["no-access-log"]
    table, diagnostics, text = compiled(
        ingress_yaml("main", "a.test", "web", {N + "enable-access-log": "nope"})
    )
    assert table.routes[0].middlewares.access_log is True
    [warning] = [d for d in diagnostics if d.code == "IC213"]
    assert warning.location is not None and warning.location.line == line_of(text, "enable-access-log")


def test_a_reload_keeps_the_service_upstream_route() -> None:
    from ingressctl.routing.memo import CompileCache

    text = "---\n".join(
        [
            service_yaml("web", "10.0.0.1", "10.96.0.10"),
            ingress_yaml("main", "a.test", "web", {N + "service-upstream": "true"}),
        ]
    )
    snapshot = load_text(text, "app.yaml").snapshot
    cache = CompileCache()
    options = CompileOptions(ingress_class="nginx", controller_name="k8s.io/ingress-nginx")
    first, _ = compile(snapshot, options, cache)
    again, _ = compile(snapshot, options, cache)
    assert again.routes[0] is first.routes[0]  # unchanged: the proxy keeps its plan


def test_the_canary_example_from_ingress_nginx_docs() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "ingress-nginx" / "canary.yaml"
    loaded = load_text(example.read_text(), str(example))
    options = CompileOptions(ingress_class="nginx", controller_name="k8s.io/ingress-nginx")
    table, _ = compile(loaded.snapshot, options)
    [route] = table.routes
    canary = route.middlewares.canary
    assert canary is not None and canary.backend.service == "canary"
    assert canary.rules == CanaryRules(header="X-Canary", weight=50, total=100)
