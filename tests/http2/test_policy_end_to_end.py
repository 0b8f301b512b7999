"""The upstream policy on HTTP/2 backends end to end: curl over HTTP/2 (TLS, ALPN h2) to a served
Ingress whose Service speaks h2c (appProtocol) on two endpoints, with ingress-nginx's sticky cookie and
proxy-next-upstream annotations: 503 answers are retried on the other endpoint, the client is pinned to
the endpoint that answered, and re-pinned when that one fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.http2.conftest import Backend, H2Env, start_env
from tests.needs import tool
from tests.proxy.h2_backend import H2Backend, start_h2_backend

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def two_endpoint_app(ports: tuple[int, int]) -> str:
    slices = "".join(
        f"""---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: pinned-{n}
  namespace: default
  labels: {{kubernetes.io/service-name: pinned}}
addressType: IPv4
ports: [{{name: web, port: {port}}}]
endpoints:
- addresses: ["127.0.0.1"]
  conditions: {{ready: true}}
"""
        for n, port in enumerate(ports)
    )
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: pinned
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/affinity: cookie
    nginx.ingress.kubernetes.io/session-cookie-name: pin
    nginx.ingress.kubernetes.io/proxy-next-upstream: error timeout http_503
spec:
  rules:
  - host: grpc.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: pinned, port: {{number: 80}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: pinned, namespace: default}}
spec:
  ports:
  - {{name: web, port: 80, appProtocol: kubernetes.io/h2c}}
{slices}"""


@pytest.fixture
async def pinned_env(tmp_path: Path, backend: Backend) -> AsyncIterator[tuple[H2Env, list[H2Backend]]]:
    backends = [await start_h2_backend(), await start_h2_backend()]
    env = await start_env(tmp_path, backend, extra=two_endpoint_app((backends[0].port, backends[1].port)))
    yield env, backends
    await env.server.stop()
    for b in backends:
        assert b.server is not None
        b.server.close()


async def curl_h2(env: H2Env, jar: Path) -> tuple[str, dict[str, str], str]:
    """(HTTP version and status, response headers, body) of GET /echo over HTTP/2 with a cookie jar."""
    proc = await asyncio.create_subprocess_exec(
        tool("curl", "curl"),
        "-sSk",
        "--http2",
        "--max-time",
        "30",
        "--resolve",
        env.resolve("websecure", "grpc.test"),
        "-c",
        str(jar),
        "-b",
        str(jar),
        "-D",
        "-",
        "-w",
        "\n%{http_version} %{http_code}",
        env.url("websecure", "/echo", "grpc.test"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err
    text = out.decode()
    head, _, rest = text.partition("\r\n\r\n")
    body, _, tail = rest.rpartition("\n")
    headers = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return tail, headers, body


async def test_retries_and_the_sticky_cookie_over_http2_to_h2c_endpoints(
    pinned_env: tuple[H2Env, list[H2Backend]], tmp_path: Path
) -> None:
    env, (first, second) = pinned_env
    first.status = 503
    for n in range(4):  # new clients, no cookie yet: round robin, the first endpoint's 503 retried
        version, headers, body = await curl_h2(env, tmp_path / f"new{n}.txt")
        assert version == "2 200" and f'"port": {second.port}' in body, body
        assert headers["set-cookie"].startswith("pin=")
    assert len(first.requests) >= 1
    jar = tmp_path / "cookies.txt"
    version, headers, body = await curl_h2(env, jar)
    assert version == "2 200" and headers["set-cookie"].startswith("pin=")
    for _ in range(4):
        version, headers, body = await curl_h2(env, jar)
        assert version == "2 200" and f'"port": {second.port}' in body and "set-cookie" not in headers
    # The pinned endpoint fails: retried on the other, and the client is pinned there.
    first.status, second.status = 200, 503
    version, headers, body = await curl_h2(env, jar)
    assert version == "2 200" and f'"port": {first.port}' in body
    assert headers["set-cookie"].startswith("pin=")
    version, headers, body = await curl_h2(env, jar)
    assert version == "2 200" and f'"port": {first.port}' in body and "set-cookie" not in headers
