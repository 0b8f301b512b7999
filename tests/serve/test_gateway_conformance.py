"""The Gateway API HTTP core conformance tests that run on loopback, ported: a real `ingressctl serve
--gateway` reads GatewayClass, Gateways, HTTPRoutes, ReferenceGrants, Services and EndpointSlices
from files and proxies to real echo backends (tests/serve/gateway_support.py). Each test names the
kubernetes-sigs/gateway-api `conformance/tests/<name>.go` it ports; the manifests are in
tests/serve/gateway_manifests.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import ServeProcess
from tests.serve.gateway_manifests import BACKENDS, all_manifests
from tests.serve.gateway_support import Answer, EchoBackend, echo_backends, request
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(120)


class Served:
    def __init__(
        self, sp: ServeProcess, port: int, backends: dict[str, EchoBackend], manifests: Path
    ) -> None:
        self.sp = sp
        self.port = port
        self.backends = backends
        self.manifests = manifests

    def get(self, host: str, path: str = "/", method: str = "GET", **headers: str) -> Answer:
        return request(self.port, host, path, method, headers)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    with echo_backends(*BACKENDS, "web-backend") as backends:
        port = free_port()
        directory = tmp_path_factory.mktemp("gateway")
        manifests = directory / "gateway.yaml"
        manifests.write_text(all_manifests(port, {name: b.port for name, b in backends.items()}))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingressctl",
                "serve",
                "--gateway",
                "--entrypoint",
                f"web=127.0.0.1:{port}",
                "--manifests",
                str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        sp = ServeProcess(proc)
        sp.start_reader()
        try:
            sp.wait_ready()
            yield Served(sp, port, backends, manifests)
        finally:
            sp.stop()


def test_simple_same_namespace(served: Served) -> None:
    """conformance/tests/httproute-simple-same-namespace.go: an HTTPRoute on a Gateway of its namespace."""
    answer = served.get("simple.example", "/")
    assert (answer.status, answer.backend) == (200, "infra-backend-v1")


@pytest.mark.parametrize(
    ("path", "headers", "backend"),
    [
        ("/", {}, "infra-backend-v1"),
        ("/example", {}, "infra-backend-v1"),
        ("/", {"version": "one"}, "infra-backend-v1"),
        ("/v2", {}, "infra-backend-v2"),
        ("/v2/example", {}, "infra-backend-v2"),
        ("/", {"version": "two"}, "infra-backend-v2"),
        ("/v2x", {}, "infra-backend-v1"),  # path elements: /v2x is not under /v2
        ("/v2/", {}, "infra-backend-v2"),
    ],
)
def test_matching(served: Served, path: str, headers: dict[str, str], backend: str) -> None:
    """conformance/tests/httproute-matching.go: several matches per rule; the most specific wins."""
    assert served.get("matching.example", path, **headers).backend == backend


@pytest.mark.parametrize(
    ("host", "path", "headers", "backend"),
    [
        ("across.example", "/", {}, "infra-backend-v1"),
        ("across.example", "/example", {}, "infra-backend-v1"),
        ("across.example.net", "/", {}, "infra-backend-v1"),
        ("across.example", "/", {"version": "one"}, "infra-backend-v1"),
        ("across.example", "/v2", {}, "infra-backend-v2"),
        ("across.example", "/v2/example", {}, "infra-backend-v2"),
        ("across.example", "/", {"version": "two"}, "infra-backend-v2"),
        ("across.example.net", "/v2", {}, "infra-backend-v1"),  # part2 does not serve .net
        ("across.example.net", "/", {"version": "two"}, "infra-backend-v1"),
    ],
)
def test_matching_across_routes(
    served: Served, host: str, path: str, headers: dict[str, str], backend: str
) -> None:
    """conformance/tests/httproute-matching-across-routes.go: precedence holds across HTTPRoutes."""
    assert served.get(host, path, **headers).backend == backend


@pytest.mark.parametrize(
    ("headers", "backend"),
    [
        ({"version": "one"}, "infra-backend-v1"),
        ({"Version": "one"}, "infra-backend-v1"),  # header names are case-insensitive
        ({"version": "two"}, "infra-backend-v2"),
        ({"version": "two", "color": "orange"}, "infra-backend-v1"),  # two header matches beat one
        ({"color": "blue"}, "infra-backend-v1"),
        ({"color": "green"}, "infra-backend-v1"),
        ({"color": "red"}, "infra-backend-v2"),
        ({"color": "yellow"}, "infra-backend-v2"),
        ({"build": "v1.22"}, "infra-backend-v3"),  # RegularExpression, whole value
    ],
)
def test_header_matching(served: Served, headers: dict[str, str], backend: str) -> None:
    """conformance/tests/httproute-header-matching.go (and the extended regex header match)."""
    assert served.get("headers.example", "/", **headers).backend == backend


@pytest.mark.parametrize("headers", [{}, {"version": "ONE"}, {"color": "purple"}, {"build": "xv1.2"}])
def test_header_matching_without_a_match_is_404(served: Served, headers: dict[str, str]) -> None:
    """conformance/tests/httproute-header-matching.go: values compare exactly; no rule, no route."""
    assert served.get("headers.example", "/", **headers).status == 404


@pytest.mark.parametrize(
    ("query", "status", "backend"),
    [
        ("animal=whale", 200, "infra-backend-v1"),
        ("animal=dolphin", 200, "infra-backend-v2"),
        ("animal=dolphin&color=blue", 200, "infra-backend-v3"),
        ("color=blue&animal=dolphin", 200, "infra-backend-v3"),
        ("animal=whale&animal=dolphin", 200, "infra-backend-v1"),  # the first value counts
        ("ANIMAL=whale", 404, ""),
        ("animal=Whale", 404, ""),
        ("", 404, ""),
    ],
)
def test_query_param_matching(served: Served, query: str, status: int, backend: str) -> None:
    """conformance/tests/httproute-query-param-matching.go."""
    answer = served.get("query.example", f"/?{query}" if query else "/")
    assert (answer.status, answer.backend) == (status, backend)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "backend"),
    [
        ("POST", "/", {}, 200, "infra-backend-v1"),
        ("GET", "/", {}, 200, "infra-backend-v2"),
        ("HEAD", "/", {}, 404, ""),
        ("GET", "/path1", {}, 200, "infra-backend-v1"),
        ("PUT", "/", {"version": "one"}, 200, "infra-backend-v2"),
        ("POST", "/", {"version": "two"}, 200, "infra-backend-v3"),
        ("PUT", "/", {}, 404, ""),
    ],
)
def test_method_matching(
    served: Served, method: str, path: str, headers: dict[str, str], status: int, backend: str
) -> None:
    """conformance/tests/httproute-method-matching.go."""
    answer = served.get("method.example", path, method, **headers)
    assert (answer.status, answer.backend) == (status, backend)


@pytest.mark.parametrize(
    ("path", "backend"),
    [
        ("/match/exact/one", "infra-backend-v3"),
        ("/match/exact", "infra-backend-v2"),
        ("/match", "infra-backend-v1"),
        ("/match/prefix/one/any", "infra-backend-v2"),
        ("/match/prefix/any", "infra-backend-v1"),
        ("/match/any", "infra-backend-v3"),
    ],
)
def test_path_match_order(served: Served, path: str, backend: str) -> None:
    """conformance/tests/httproute-path-match-order.go: Exact first, then the longest PathPrefix."""
    assert served.get("order.example", path).backend == backend


def test_weight(served: Served) -> None:
    """conformance/tests/httproute-weight.go: 70/30/0; weight 0 never serves."""
    seen = Counter(served.get("weight.example", "/").backend for _ in range(200))
    assert set(seen) <= {"infra-backend-v1", "infra-backend-v2"}, seen
    assert 100 <= seen["infra-backend-v1"] <= 180, seen  # 140 expected; smooth WRR is near exact


def test_request_header_modifier(served: Served) -> None:
    """conformance/tests/httproute-request-header-modifier.go: set replaces, add appends, remove removes."""
    answer = served.get(
        "reqhdr.example",
        "/",
        **{"X-Header-Set": "some-other-value", "X-Header-Add": "some", "X-Header-Remove": "gone"},
    )
    assert answer.status == 200
    assert answer.header("X-Header-Set") == "set-overwrites-values"
    assert answer.header("X-Header-Add") == "some,add-appends-values"
    assert answer.header("X-Header-Remove") is None
    plain = served.get("reqhdr.example", "/")
    assert plain.header("X-Header-Add") == "add-appends-values"


def test_response_header_modifier(served: Served) -> None:
    """conformance/tests/httproute-response-header-modifier.go (the backend sets headers on request)."""
    answer = served.get(
        "resphdr.example",
        "/",
        **{"X-Echo-Set-Header": "X-Header-Set:other-value,X-Header-Add:backend-value,X-Header-Remove:val"},
    )
    assert answer.status == 200
    assert answer.headers.get("X-Header-Set") == "header-set"
    assert answer.headers.get("X-Header-Add") == "backend-value,header-add"
    assert answer.headers.get("X-Header-Remove") is None


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/hostname-redirect", 302, "http://example.org:{port}/hostname-redirect"),
        ("/status-code-301", 301, "http://redirect.example:{port}/status-code-301"),
        ("/host-and-status", 301, "http://example.org:{port}/host-and-status"),
        ("/original-prefix/lemon?x=1", 302, "http://redirect.example:{port}/replacement-prefix/lemon?x=1"),
        ("/full/path/original", 302, "http://redirect.example:{port}/full-path-replacement"),
        ("/port", 302, "http://redirect.example:8083/port"),
        ("/scheme", 302, "https://redirect.example/scheme"),
        ("/scheme-and-port", 302, "https://redirect.example:8443/scheme-and-port"),
    ],
)
def test_redirects(served: Served, path: str, status: int, location: str) -> None:
    """conformance/tests/httproute-redirect-host-and-status.go, httproute-redirect-path.go,
    httproute-redirect-port.go, httproute-redirect-scheme.go, httproute-redirect-port-and-scheme.go."""
    answer = served.get("redirect.example", path)
    assert answer.status == status
    assert answer.headers.get("Location") == location.format(port=served.port)


@pytest.mark.parametrize(
    ("path", "upstream_path", "host"),
    [
        ("/prefix/one/two", "/one/two", "rewrite.example"),
        ("/prefix/one", "/one", "rewrite.example"),
        ("/strip-prefix/three", "/three", "rewrite.example"),
        ("/strip-prefix", "/", "rewrite.example"),
        ("/full/one/two", "/one", "rewrite.example"),
        ("/host/x?q=1", "/host/x?q=1", "one.example.org"),
    ],
)
def test_rewrite_path_and_host(served: Served, path: str, upstream_path: str, host: str) -> None:
    """conformance/tests/httproute-rewrite-path.go and httproute-rewrite-host.go."""
    answer = served.get("rewrite.example", path)
    assert answer.status == 200
    assert (answer.path, answer.body["host"]) == (upstream_path, host)


@pytest.mark.parametrize(
    ("host", "path", "status", "backend"),
    [
        ("very.specific.com", "/s1", 200, "infra-backend-v1"),
        ("non.matching.com", "/s1", 404, ""),
        ("foo.nonmatchingwildcard.io", "/s1", 404, ""),
        ("foo.wildcard.io", "/s2", 200, "infra-backend-v2"),
        ("bar.wildcard.io", "/s2", 200, "infra-backend-v2"),
        ("foo.bar.wildcard.io", "/s2", 200, "infra-backend-v2"),
        ("wildcard.io", "/s2", 404, ""),
        ("very.specific.com", "/s3", 200, "infra-backend-v3"),
        ("foo.specific.com", "/s3", 404, ""),  # the listener's hostname bounds the route's wildcard
        ("foo.anotherwildcard.io", "/s4", 200, "infra-backend-v1"),
        ("foo.bar.anotherwildcard.io", "/s4", 200, "infra-backend-v1"),
        ("anotherwildcard.io", "/s4", 404, ""),
    ],
)
def test_hostname_intersection(served: Served, host: str, path: str, status: int, backend: str) -> None:
    """conformance/tests/httproute-hostname-intersection.go."""
    answer = served.get(host, path)
    assert (answer.status, answer.backend) == (status, backend)


def test_cross_namespace_backend_with_reference_grant(served: Served) -> None:
    """conformance/tests/httproute-reference-grant.go and httproute-cross-namespace.go."""
    assert served.get("grant.example", "/").backend == "web-backend"
    assert served.get("cross.example", "/").backend == "web-backend"


def test_cross_namespace_backend_without_grant_answers_500(served: Served) -> None:
    """conformance/tests/httproute-invalid-reference-grant.go: RefNotPermitted, requests get 500."""
    assert served.get("nogrant.example", "/").status == 500


@pytest.mark.parametrize("path", ["/nonexistent", "/unknown-kind", "/weight-zero"])
def test_invalid_backend_refs_answer_500(served: Served, path: str) -> None:
    """conformance/tests/httproute-invalid-backendref-nonexistent.go, -unknown-kind.go and
    httproute-all-backends-weight-zero.go."""
    assert served.get("invalid.example", path).status == 500


def test_route_not_allowed_by_listener_serves_nothing(served: Served) -> None:
    """conformance/tests/httproute-invalid-cross-namespace-parent-ref.go (NotAllowedByListeners)."""
    assert served.get("notallowed.example", "/").status == 404


def test_request_mirror(served: Served) -> None:
    """conformance/tests/httproute-request-mirror.go: the backend answers, the mirror gets a copy."""
    mirror = served.backends["infra-backend-v2"]
    answer = served.get("mirror.example", "/mirror-me?k=v")
    assert answer.backend == "infra-backend-v1"
    deadline = time.monotonic() + 20
    while "/mirror-me?k=v" not in mirror.hits:
        assert time.monotonic() < deadline, mirror.hits
        time.sleep(0.05)


def test_routes_and_validate_show_the_gateway_api(served: Served) -> None:
    """`routes` lists HTTPRoute rules with their listeners; `validate` reports problems at their line."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250", "TERM": "dumb"}
    listing = subprocess.run(
        [sys.executable, "-m", "ingressctl", "routes", str(served.manifests), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listing.returncode in (0, 1), listing.stderr
    routes = json.loads(listing.stdout)["routes"]
    method = [
        r for r in routes if r["id"].startswith("httproute/gateway-conformance-infra/method-matching#r2")
    ]
    assert method and method[0]["gateway"]["match"] == "PathPrefix /path1, method GET"
    assert "listener http" in method[0]["gateway"]["parents"][0]
    check = subprocess.run(
        [sys.executable, "-m", "ingressctl", "validate", str(served.manifests), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    findings = json.loads(check.stdout)["findings"]
    codes = {(f["code"], f["line"]) for f in findings if f["severity"] == "error"}
    text = served.manifests.read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if "name: not-allowed," in t)
    assert any(code == "IC260" and line < at < line + 6 for code, at in codes), codes
    assert check.returncode == 1
