"""More of ingress-nginx end to end, through a real `ingressctl serve` (takeover mode:
`--ingress-class nginx --controller-name k8s.io/ingress-nginx`) with real backends. Each expected
answer cites ingress-nginx's annotations page
(https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/):

- [canary] "Canary": canary-by-header `always` routes to the canary, `never` never does, other values
  fall through; canary-by-header-value / -pattern replace `always`; canary-by-cookie likewise; the
  order is header, then cookie, then canary-weight.
- [service-upstream] "Service Upstream": requests go to the Service's cluster IP and port, not to its
  endpoints.
- [server-alias] "Server Alias": the aliases are served like the host.
- [access-log] "Enable Access Log": false disables the access log of the Ingress's routes.
- [ssl-redirect] "Server-side HTTPS enforcement through redirect": by default the controller redirects
  (308) to HTTPS if TLS is enabled for that ingress; ssl-redirect "false" disables it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.serve.conftest import ServeProcess
from tests.serve.test_nginx_takeover import ingress, path_backends, service, start

pytestmark = pytest.mark.timeout(90)

N = "nginx.ingress.kubernetes.io/"


async def fetch(sp: ServeProcess, host: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(sp.url("/x"), headers={"Host": host, **(headers or {})}, allow_redirects=False) as resp,
    ):
        return resp.status, await resp.text()


def canary(name: str, host: str, notes: dict[str, str]) -> list[str]:
    return [
        ingress(f"{name}-main", host, [("/", "s1")], {}, "nginx"),
        ingress(f"{name}-canary", host, [("/", "s2")], {N + "canary": "true", **notes}, "nginx"),
    ]


CANARIES = [
    *canary("hdr", "hdr.test", {N + "canary-by-header": "X-Canary"}),
    *canary("ck", "ck.test", {N + "canary-by-cookie": "beta", N + "canary-weight": "100"}),
    *canary("both", "both.test", {N + "canary-by-header": "X-Canary", N + "canary-by-cookie": "beta"}),
    *canary("val", "val.test", {N + "canary-by-header": "X-Region", N + "canary-by-header-value": "eu"}),
    *canary(
        "pat", "pat.test", {N + "canary-by-header": "X-User", N + "canary-by-header-pattern": "^(alice|bob)$"}
    ),
]

# (host, request headers, the backend that answers)
CANARY_CASES = [
    ("hdr.test", {}, "s1"),
    ("hdr.test", {"X-Canary": "always"}, "s2"),
    ("hdr.test", {"X-Canary": "never"}, "s1"),
    ("hdr.test", {"X-Canary": "perhaps"}, "s1"),  # falls through to canary-weight (0)
    ("ck.test", {}, "s2"),  # canary-weight 100
    ("ck.test", {"Cookie": "beta=never"}, "s1"),
    ("ck.test", {"Cookie": "beta=always"}, "s2"),
    ("both.test", {"X-Canary": "never", "Cookie": "beta=always"}, "s1"),  # the header decides first
    ("both.test", {"X-Canary": "other", "Cookie": "beta=always"}, "s2"),  # then the cookie
    ("both.test", {"X-Canary": "always", "Cookie": "beta=never"}, "s2"),
    ("val.test", {"X-Region": "eu"}, "s2"),
    ("val.test", {"X-Region": "always"}, "s1"),  # only the configured value selects the canary
    ("pat.test", {"X-User": "bob"}, "s2"),
    ("pat.test", {"X-User": "carol"}, "s1"),
]


async def test_canaries_chosen_by_header_and_cookie(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1", "s2") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        text = "---\n".join([*(service(n, p) for n, p in ports.items()), *CANARIES])
        (directory / "apps.yaml").write_text(text)
        sp = await start(serve, directory)
        for host, headers, backend in CANARY_CASES:
            for _ in range(3):  # every request, not a lucky one
                assert await fetch(sp, host, headers) == (200, f"{backend} /x"), (host, headers)
        assert "Traceback" not in sp.text


def with_tls(manifest: str, host: str) -> str:
    return manifest.replace("  rules:\n", f"  tls:\n  - hosts: [{host}]\n  rules:\n", 1)


async def test_takeover_redirects_tls_hosts_to_https_by_default(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        text = "---\n".join(
            [
                service("s1", ports["s1"]),
                with_tls(ingress("tls", "tls.test", [("/", "s1")], {}, "nginx"), "tls.test"),
                ingress("plain", "plain.test", [("/", "s1")], {}, "nginx"),
                with_tls(
                    ingress("no-redirect", "off.test", [("/", "s1")], {N + "ssl-redirect": "false"}, "nginx"),
                    "off.test",
                ),
            ]
        )
        (directory / "apps.yaml").write_text(text)
        sp = await start(serve, directory, "--entrypoint", "websecure=127.0.0.1:0,tls")
        https_port = int(sp.addresses["websecure"].rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as session:
            for method in ("GET", "POST"):
                async with session.request(
                    method, sp.url("/x?y=1"), headers={"Host": "tls.test"}, allow_redirects=False
                ) as resp:
                    assert resp.status == 308, method
                    assert resp.headers["Location"] == f"https://tls.test:{https_port}/x?y=1"
            async with session.get(
                f"https://{sp.addresses['websecure']}/x", headers={"Host": "tls.test"}, ssl=False
            ) as resp:
                assert (resp.status, await resp.text()) == (200, "s1 /x")
        assert await fetch(sp, "plain.test") == (200, "s1 /x")
        assert await fetch(sp, "off.test") == (200, "s1 /x")


def cluster_ip_service(name: str, cluster_port: int, endpoint_port: int) -> str:
    """A Service whose cluster IP (127.0.0.1:cluster_port) and endpoint (127.0.0.1:endpoint_port) are
    different backends: which one answers tells how the request was routed."""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  clusterIP: 127.0.0.1
  ports: [{{name: http, port: {cluster_port}, targetPort: {endpoint_port}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  namespace: default
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: {endpoint_port}}}]
endpoints:
- addresses: ["127.0.0.1"]
"""


async def test_service_upstream_server_alias_and_access_log(
    tmp_path: Path, serve_with_access_log: Callable[..., ServeProcess]
) -> None:
    async with path_backends("s1", "s2") as ports:
        directory = tmp_path / "manifests"
        directory.mkdir()
        upstream = ingress("upstream", "up.test", [("/", "svc")], {N + "service-upstream": "true"}, "nginx")
        text = "---\n".join(
            [
                service("s1", ports["s1"]),
                cluster_ip_service("svc", ports["s1"], ports["s2"]),
                upstream.replace("number: 80", f"number: {ports['s1']}"),
                ingress("endpoints", "ep.test", [("/", "svc")], {}, "nginx").replace(
                    "number: 80", f"number: {ports['s1']}"
                ),
                ingress("alias", "main.test", [("/", "s1")], {N + "server-alias": "alias.test"}, "nginx"),
                ingress("quiet", "quiet.test", [("/", "s1")], {N + "enable-access-log": "false"}, "nginx"),
            ]
        )
        (directory / "apps.yaml").write_text(text)
        sp = await start(serve_with_access_log, directory, "--access-log")
        assert await fetch(sp, "up.test") == (200, "s1 /x")  # the cluster IP's port
        assert await fetch(sp, "ep.test") == (200, "s2 /x")  # the endpoint
        assert await fetch(sp, "alias.test") == (200, "s1 /x")
        assert await fetch(sp, "nothere.test") == (404, "404 page not found\n")
        # Log lines reach this test through a pipe and a reader thread, after the answers: wait for
        # the last one logged so far (the 404), or it could be counted after the mark.
        await asyncio.to_thread(sp.wait_for, r'"GET /x HTTP/1\.1" 404 ', 10)
        mark = len(sp.lines)
        assert await fetch(sp, "quiet.test") == (200, "s1 /x")
        async with (
            aiohttp.ClientSession() as session,
            session.get(sp.url("/logged"), headers={"Host": "main.test"}) as resp,
        ):
            assert resp.status == 200
        await asyncio.to_thread(sp.wait_for, r"/logged", 10, mark)
        # The access log line of the quiet route would come before /logged's: there is none.
        assert not [line for line in sp.lines[mark:] if '"GET /x ' in line]
        assert [line for line in sp.lines[:mark] if '"GET /x ' in line]  # the other routes' lines
