"""Property tests: random snapshots never break compile(), and match() obeys the semantics."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingressctl.model import (
    Ingress,
    IngressBackend,
    IngressPath,
    IngressRule,
    IngressTLS,
    ObjectMeta,
    PathType,
    Route,
    Snapshot,
)
from ingressctl.routing import CompileOptions, canonical_path, compile
from tests.routing.builders import (
    endpoint_slice,
    ep,
    ingress_class,
    legacy_endpoints,
    secret,
    service,
    tls_secret,
)

HOSTS = [
    None,
    "example.com",
    "a.example.com",
    "b.example.com",
    "*.example.com",
    "x.a.example.com",
    "*.a.example.com",
]
REQUEST_HOSTS = [
    "example.com",
    "a.example.com",
    "A.Example.COM:8080",
    "b.example.com.",
    "z.example.com",
    "x.a.example.com",
    "y.x.a.example.com",
    "other.test",
    "[::1]:80",
    "",
]
SEGMENTS = ["a", "ab", "b", "api", "v1", ""]
PATH_TYPES = [PathType.EXACT, PathType.PREFIX, PathType.IMPLEMENTATION_SPECIFIC, None]

paths = st.lists(st.sampled_from(SEGMENTS), max_size=4).map(lambda parts: "/" + "/".join(parts))
backends = st.builds(
    lambda svc, port: IngressBackend(
        service_name=svc,
        port_number=port if isinstance(port, int) else None,
        port_name=port if isinstance(port, str) else None,
    ),
    st.sampled_from(["web", "api", "missing", "ext", "legacy", None]),
    st.sampled_from([80, 81, "http", "nope", None]),
)
ingress_paths = st.builds(
    IngressPath,
    st.one_of(paths, st.sampled_from(["", "no-slash", "/a//b"])),
    st.sampled_from(PATH_TYPES),
    backends,
)
rules = st.builds(
    lambda h, ps: IngressRule(h, tuple(ps)),
    st.sampled_from([*HOSTS, "Bad_Host", "*", "10.0.0.1"]),
    st.lists(ingress_paths, max_size=4),
)
annotations = st.dictionaries(
    st.sampled_from(
        [
            "traefik.frontend.priority",
            "traefik.ingress.kubernetes.io/router.priority",
            "traefik.frontend.rule.type",
            "ingress.kubernetes.io/ssl-redirect",
            "ingress.kubernetes.io/whitelist-source-range",
            "traefik.ingress.kubernetes.io/service-weights",
            "ingress.kubernetes.io/auth-type",
            "ingress.kubernetes.io/auth-secret",
            "kubernetes.io/ingress.class",
            "traefik.ingress.kubernetes.io/router.tls",
            "traefik.ingress.kubernetes.io/router.entrypoints",
        ]
    ),
    st.sampled_from(
        [
            "0",
            "5",
            "-1",
            "x",
            "true",
            "PathStrip",
            "Path",
            "10.0.0.0/8",
            "web: 50%",
            "basic",
            "htpasswd",
            "traefik",
        ]
    ),
    max_size=3,
)
tls_sections = st.builds(
    lambda hosts, name: IngressTLS(tuple(h for h in hosts if h), name),
    st.lists(st.sampled_from([*HOSTS, "Bad_Host"]), max_size=3),
    st.sampled_from([None, "good-tls", "bad-tls", "missing-tls", "htpasswd"]),
)
ingresses = st.builds(
    lambda i, rs, ann, ts, default, tls, klass: Ingress(
        meta=ObjectMeta(f"ing{i}", creation_timestamp=ts, annotations=ann),
        ingress_class_name=klass,
        rules=tuple(rs),
        default_backend=default,
        tls=tuple(tls),
    ),
    st.integers(0, 5),
    st.lists(rules, max_size=3),
    annotations,
    st.sampled_from(["", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]),
    st.one_of(st.none(), backends),
    st.lists(tls_sections, max_size=2),
    st.sampled_from([None, "ingressctl", "ours", "nginx"]),
)
snapshots = st.builds(
    lambda ings: Snapshot(
        ingresses=tuple({i.meta.name: i for i in ings}.values()),
        services=(
            service("web"),
            service("api"),
            service("legacy"),
            service("ext", type="ExternalName", external_name="api.example.net"),
        ),
        endpoints=(legacy_endpoints("legacy", ready=("10.0.9.1",), not_ready=("10.0.9.2",)),),
        secrets=(
            tls_secret("good-tls"),
            secret("bad-tls", {"tls.crt": b"nope"}),
            secret("htpasswd", {"auth": b"alice:$apr1$x$y"}),
        ),
        ingress_classes=(ingress_class("ours", "ingressctl.io/ingress-controller", default=True),),
        endpoint_slices=(
            endpoint_slice("web", ep("10.0.0.1")),
            endpoint_slice("api", ep("10.0.0.2", ready=False)),
        ),
    ),
    st.lists(ingresses, max_size=5),
)


# An oracle written independently of ingressctl.routing.table.
def host_matches(route: Route, request_host: str) -> bool:
    host = request_host.lower()
    if host.startswith("["):
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    host = host.rstrip(".")
    if route.host is None:
        return True
    if route.host.startswith("*."):
        labels = host.split(".")
        return len(labels) >= 2 and labels[0] != "" and ".".join(labels[1:]) == route.host[2:]
    return route.host == host


def path_matches(route: Route, request_path: str) -> bool:
    if route.path_type is PathType.EXACT:
        return request_path == route.path
    if route.path_type is PathType.PREFIX:
        # Whole `/`-separated elements; a declared trailing slash is ignored.
        declared = route.path.split("/")[1:]
        while declared and declared[-1] == "":
            declared.pop()
        return request_path.split("/")[1:][: len(declared)] == declared
    return request_path.startswith(route.path)


def oracle_rank(route: Route) -> tuple[int, int, int, int]:
    tier = 2 if route.host is None else (1 if route.host.startswith("*.") else 0)
    length = len(route.path.rstrip("/")) or 1 if route.path_type is PathType.PREFIX else len(route.path)
    kind = {PathType.EXACT: 0, PathType.PREFIX: 1, PathType.IMPLEMENTATION_SPECIFIC: 2}[route.path_type]
    return (tier, -route.priority, -length, kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=snapshots,
    requests=st.lists(st.tuples(st.sampled_from(REQUEST_HOSTS), paths), min_size=1, max_size=12),
    external=st.booleans(),
)
def test_random_snapshots_compile_and_match_correctly(
    snapshot: Snapshot, requests: list[tuple[str, str]], external: bool
) -> None:
    table, diagnostics = compile(snapshot, CompileOptions(allow_external_name_services=external))
    assert all(d.code.startswith("IC2") and d.message.startswith("Ingress ") for d in diagnostics)
    assert len({r.id for r in table.routes}) == len(table.routes)
    for host, raw_path in requests:
        request_path = canonical_path(raw_path)
        assert request_path is not None
        found = table.match(host, request_path)
        explained = table.explain(host, request_path)
        candidates = sorted(
            (r for r in table.routes if host_matches(r, host) and path_matches(r, request_path)),
            key=oracle_rank,
        )
        if found is None:
            assert explained is None
            assert candidates == [] and table.default_route is None
            continue
        assert explained is not None and explained.route.id == found.route.id
        if found.route.is_default_backend:
            assert candidates == []
            continue
        assert host_matches(found.route, host), (host, found.route)
        assert path_matches(found.route, request_path), (request_path, found.route)
        assert candidates[0].id == found.route.id
        assert [r.id for r in explained.shadowed if not r.is_default_backend] == [
            r.id for r in candidates[1:]
        ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/.%2fF5cC0e4a1b\\~", max_size=24))
def test_canonical_path_never_raises_and_is_stable(raw: str) -> None:
    result = canonical_path(raw)
    if result is None:
        return
    assert result.startswith("/")
    assert "//" not in result
    assert "/./" not in result + "/" and "/../" not in result + "/"
    assert canonical_path(result) == result


@settings(max_examples=150, deadline=None)
@given(
    declared=st.lists(
        st.tuples(
            st.text(alphabet="/ab", min_size=1, max_size=12).map(lambda s: "/" + s),
            st.sampled_from([PathType.IMPLEMENTATION_SPECIFIC, PathType.PREFIX, PathType.EXACT]),
        ),
        min_size=1,
        max_size=40,
    ),
    requests=st.lists(st.text(alphabet="/ab", max_size=14).map(lambda s: "/" + s), min_size=1, max_size=20),
)
def test_dense_single_host_tables_match_like_the_oracle(
    declared: list[tuple[str, PathType]], requests: list[str]
) -> None:
    ing = Ingress(
        meta=ObjectMeta("dense"),
        rules=(
            IngressRule(
                "h",
                tuple(
                    IngressPath(p, t, IngressBackend(service_name="web", port_number=80)) for p, t in declared
                ),
            ),
        ),
    )
    table, _ = compile(Snapshot(ingresses=(ing,)), CompileOptions())
    for request in requests:
        found = table.match("h", request)
        candidates = sorted((r for r in table.routes if path_matches(r, request)), key=oracle_rank)
        assert (found.route.id if found else None) == (candidates[0].id if candidates else None), request
