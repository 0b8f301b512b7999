"""compile() with a CompileCache gives exactly what a fresh compile gives, change after change.

The watch loop compiles every change with one cache; a stale entry would serve an old backend, an
old certificate or a missing finding. Each example is a sequence of snapshots that, like the
Kubernetes provider's, keeps unchanged objects as the same objects and replaces changed ones.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingressctl.model import EndpointPort, Ingress, IngressTLS, ObjectMeta, ServicePort, Snapshot
from ingressctl.proxy import EntrypointInfo, TablePlan
from ingressctl.routing import CompileCache, CompileOptions, RoutingTable, canonical_path, compile
from tests.routing.builders import (
    endpoint_slice,
    ep,
    ingress,
    ingress_class,
    legacy_endpoints,
    path,
    rule,
    secret,
    service,
    tls_secret,
)
from tests.routing.test_properties import REQUEST_HOSTS, annotations, backends, paths, rules, tls_sections

# Variants of every other kind; a step picks one of each, so objects repeat by identity.
SERVICES = [
    (service("web"), service("api"), service("legacy")),
    (service("web"), service("api", ports=(ServicePort(81, "http", 9090),))),
    (service("web", type="ExternalName", external_name="web.example.net"), service("legacy")),
    (),
]
SLICES = [
    (endpoint_slice("web", ep("10.0.0.1")), endpoint_slice("api", ep("10.0.0.2", ready=False))),
    (endpoint_slice("web", ep("10.0.0.1"), ep("10.0.0.3")),),
    (
        endpoint_slice("web", ep("10.0.0.4", ready=False, serving=True, terminating=True)),
        endpoint_slice("api", ep("10.0.0.5"), ports=(EndpointPort(9090, "other"),)),
    ),
    (),
]
LEGACY = [(legacy_endpoints("legacy", ready=("10.0.9.1",)),), ()]
SECRETS = [
    (tls_secret("good-tls"), secret("htpasswd", {"auth": b"alice:$apr1$x$y"})),
    (secret("good-tls", {"tls.crt": b"nope"}), secret("htpasswd", {"auth": b"plain"})),
    (tls_secret("good-tls"), tls_secret("bad-tls")),
    (),
]
CLASSES = [
    (ingress_class("ours", "ingressctl.io/ingress-controller", default=True),),
    (ingress_class("ours", "someone.else/controller"),),
    (),
]
OPTIONS = [
    CompileOptions(),
    CompileOptions(allow_external_name_services=True),
    CompileOptions(require_services=True),
]

AUTH = {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "htpasswd"}
# Denser than test_properties' Ingresses: most read a Secret, so Secret changes matter.
ingresses = st.builds(
    lambda rs, ann, tls, klass, default: Ingress(
        meta=ObjectMeta("x", annotations=ann),
        ingress_class_name=klass,
        rules=tuple(rs),
        default_backend=default,
        tls=tuple(tls),
    ),
    st.lists(rules, min_size=1, max_size=3),
    st.one_of(annotations, st.just(AUTH)),
    st.lists(tls_sections, min_size=1, max_size=2),
    st.sampled_from([None, "ours", "ingressctl"]),
    st.one_of(st.none(), backends),
)

step = st.fixed_dictionaries(
    {
        "replace": st.lists(st.tuples(st.integers(0, 5), ingresses), max_size=2),
        "remove": st.lists(st.integers(0, 5), max_size=2),
        "touch": st.lists(st.integers(0, 5), max_size=2),  # an equal but new Ingress object
        "services": st.integers(0, len(SERVICES) - 1),
        "slices": st.integers(0, len(SLICES) - 1),
        "legacy": st.integers(0, len(LEGACY) - 1),
        "secrets": st.integers(0, len(SECRETS) - 1),
        "classes": st.integers(0, len(CLASSES) - 1),
        "options": st.sampled_from([0, 0, 0, 1, 2]),
    }
)


def _apply(current: dict[str, Ingress], change: dict[str, object]) -> Snapshot:
    for slot, new in change["replace"]:  # type: ignore[attr-defined]
        current[f"ing{slot}"] = replace(new, meta=replace(new.meta, name=f"ing{slot}"))
    for slot in change["remove"]:  # type: ignore[attr-defined]
        current.pop(f"ing{slot}", None)
    for slot in change["touch"]:  # type: ignore[attr-defined]
        if f"ing{slot}" in current:
            current[f"ing{slot}"] = replace(current[f"ing{slot}"])
    return Snapshot(
        ingresses=tuple(current.values()),
        services=SERVICES[change["services"]],  # type: ignore[index]
        endpoint_slices=SLICES[change["slices"]],  # type: ignore[index]
        endpoints=LEGACY[change["legacy"]],  # type: ignore[index]
        secrets=SECRETS[change["secrets"]],  # type: ignore[index]
        ingress_classes=CLASSES[change["classes"]],  # type: ignore[index]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, min_size=3, max_size=6),
    requests=st.lists(st.tuples(st.sampled_from(REQUEST_HOSTS), paths), min_size=1, max_size=8),
)
def test_cached_compiles_equal_fresh_ones(
    steps: list[dict[str, object]], requests: list[tuple[str, str]]
) -> None:
    cache = CompileCache()
    current: dict[str, Ingress] = {}
    infos = [EntrypointInfo("web", "http", 80), EntrypointInfo("websecure", "https", 443)]
    plan: TablePlan | None = None
    for change in steps:
        snapshot = _apply(current, change)
        options = OPTIONS[change["options"]]  # type: ignore[index]
        cached_table, cached_found = compile(snapshot, options, cache)
        fresh_table, fresh_found = compile(snapshot, options)
        assert cached_table.routes == fresh_table.routes
        assert cached_table.default_route == fresh_table.default_route
        assert cached_table.certificates == fresh_table.certificates
        assert cached_found == fresh_found
        plan = TablePlan(cached_table, infos, ("web",), RoutingTable, previous=plan)
        fresh_plan = TablePlan(fresh_table, infos, ("web",), RoutingTable)
        assert set(plan.routes) == set(fresh_plan.routes)
        for route_id, route_plan in plan.routes.items():
            assert route_plan.route == fresh_plan.routes[route_id].route
        for host, raw in requests:
            request_path = canonical_path(raw)
            assert request_path is not None
            for entrypoint in ("web", "websecure"):
                got = plan.table_for(entrypoint).match(host, request_path)
                want = fresh_plan.table_for(entrypoint).match(host, request_path)
                assert (got and (got.route, got.reason)) == (want and (want.route, want.reason))


def test_one_changed_ingress_reuses_every_other_route_object() -> None:
    """The point of the cache: unchanged Ingresses keep their Route objects (and so their RoutePlans)."""
    apps = [ingress(f"app{i}", rule(f"app{i}.example.com", path("/", service=f"svc{i}"))) for i in range(20)]
    world = dict(
        services=tuple(service(f"svc{i}") for i in range(20)),
        endpoint_slices=tuple(endpoint_slice(f"svc{i}", ep(f"10.0.0.{i + 1}")) for i in range(20)),
    )
    cache = CompileCache()
    first, _ = compile(Snapshot(ingresses=tuple(apps), **world), CompileOptions(), cache)
    changed = ingress("app7", rule("app7-new.example.com", path("/", service="svc7")))
    second, _ = compile(Snapshot(ingresses=(*apps[:7], changed, *apps[8:]), **world), CompileOptions(), cache)
    old = {r.id: r for r in first.routes}
    reused = [r for r in second.routes if old.get(r.id) is r]
    assert len(reused) == 19
    assert second.match("app7-new.example.com", "/") is not None
    assert second.match("app7.example.com", "/") is None
    # An endpoint change rebuilds exactly the routes of that Service.
    slices = list(world["endpoint_slices"])
    slices[3] = endpoint_slice("svc3", ep("10.0.1.1"))
    third, _ = compile(
        Snapshot(
            ingresses=(*apps[:7], changed, *apps[8:]),
            services=world["services"],
            endpoint_slices=tuple(slices),
        ),
        CompileOptions(),
        cache,
    )
    rebuilt = [r.id for r in third.routes if {x.id: x for x in second.routes}[r.id] is not r]
    assert rebuilt == ["default/app3#r0p0"]
    match = third.match("app3.example.com", "/")
    assert match is not None and [u.host for u in match.route.backend.upstreams] == ["10.0.1.1"]


def _compile_both(
    snapshot: Snapshot, cache: CompileCache, options: CompileOptions | None = None
) -> RoutingTable:
    options = options or CompileOptions()
    cached, cached_found = compile(snapshot, options, cache)
    fresh, fresh_found = compile(snapshot, options)
    assert (cached.routes, cached.certificates, cached_found) == (
        fresh.routes,
        fresh.certificates,
        fresh_found,
    )
    return cached


def test_a_changed_secret_reaches_the_unchanged_ingress_that_reads_it() -> None:
    tls = IngressTLS(("example.com",), "site-tls")
    auth = {"ingress.kubernetes.io/auth-type": "basic", "ingress.kubernetes.io/auth-secret": "users"}
    app = ingress("app", rule("example.com", path("/")), tls=[tls], annotations=auth)
    base = dict(
        ingresses=(app,), services=(service("web"),), endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),)
    )
    users = secret("users", {"auth": b"alice:{SHA}fEqNCco3Yq9h5ZUglD3CZJT4lBs="})
    cache = CompileCache()
    first = _compile_both(Snapshot(**base, secrets=(tls_secret("site-tls"), users)), cache)
    assert len(first.certificates) == 1 and first.routes[0].middlewares.basic_auth is not None
    second = _compile_both(Snapshot(**base, secrets=(secret("site-tls", {"tls.crt": b"x"}), users)), cache)
    assert second.certificates == ()
    third = _compile_both(Snapshot(**base, secrets=(tls_secret("site-tls"),)), cache)
    assert third.routes[0].backend.problem is not None  # auth Secret gone: fails closed


def test_a_tls_section_of_another_ingress_changes_an_unchanged_route() -> None:
    app = ingress("app", rule("example.com", path("/")))
    world = dict(services=(service("web"),), endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),))
    cache = CompileCache()
    secrets = (tls_secret("site-tls"),)
    first = _compile_both(Snapshot(ingresses=(app,), secrets=secrets, **world), cache)
    assert first.routes[0].tls is None
    tls_only = ingress("cert", tls=[IngressTLS(("example.com",), "site-tls")])
    second = _compile_both(Snapshot(ingresses=(app, tls_only), secrets=secrets, **world), cache)
    assert second.routes[0].tls is not None


def test_ingress_class_and_option_changes_are_seen() -> None:
    app = ingress("app", rule("example.com", path("/")), class_name="mine")
    world = dict(
        ingresses=(app,), services=(service("web"),), endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),)
    )
    ours = ingress_class("mine", "ingressctl.io/ingress-controller")
    theirs = ingress_class("mine", "example.com/other")
    cache = CompileCache()
    assert len(_compile_both(Snapshot(**world, ingress_classes=(ours,)), cache).routes) == 1
    assert len(_compile_both(Snapshot(**world, ingress_classes=(theirs,)), cache).routes) == 0
    assert len(_compile_both(Snapshot(**world, ingress_classes=(ours,)), cache).routes) == 1
    external = dict(world, services=(service("web", type="ExternalName", external_name="x.example.net"),))
    denied = _compile_both(Snapshot(**external, ingress_classes=(ours,)), cache)
    assert denied.routes[0].backend.problem is not None
    allowed = _compile_both(
        Snapshot(**external, ingress_classes=(ours,)),
        cache,
        CompileOptions(allow_external_name_services=True),
    )
    assert allowed.routes[0].backend.problem is None


def test_a_secret_appearing_in_the_namespace_turns_a_missing_tls_secret_into_an_error() -> None:
    app = ingress("app", rule("example.com", path("/")), tls=[IngressTLS(("example.com",), "not-there")])
    world = dict(
        ingresses=(app,), services=(service("web"),), endpoint_slices=(endpoint_slice("web", ep("10.0.0.1")),)
    )
    cache = CompileCache()
    _compile_both(Snapshot(**world), cache)
    _compile_both(Snapshot(**world, secrets=(secret("unrelated", {"a": b"b"}),)), cache)
