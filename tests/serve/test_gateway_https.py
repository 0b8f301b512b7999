"""HTTPS listeners end to end: two HTTPS listeners of one Gateway share a TLS entrypoint's port and are
told apart by SNI, each serving the certificate of its certificateRefs Secret (one of them in another
namespace, opened by a ReferenceGrant), as in kubernetes-sigs/gateway-api
conformance/tests/httplistener-multiple-tls-certs-longest-sni-matching.go and
gateway-secret-reference-grant-specific.go; a listener whose Secret no grant opens is not served."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import self_signed
from tests.serve.conftest import ServeProcess
from tests.serve.gateway_support import INFRA, echo_backends, service
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(120)

GROUP = "gateway.networking.k8s.io"


def tls_secret(name: str, namespace: str, cert: bytes, key: bytes) -> str:
    crt, k = base64.b64encode(cert).decode(), base64.b64encode(key).decode()
    return f"""apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {namespace}}}
type: kubernetes.io/tls
data: {{tls.crt: {crt}, tls.key: {k}}}
"""


def manifests(port: int, backends: dict[str, int], certs: dict[str, tuple[bytes, bytes]]) -> str:
    listeners = "\n".join(
        f"""  - name: {name}
    port: {port}
    protocol: HTTPS
    hostname: {host}
    tls: {{certificateRefs: [{ref}]}}"""
        for name, host, ref in (
            ("secure", "secure.example", "{name: secure-cert}"),
            ("other", "other.example", "{name: other-cert, namespace: certs}"),
            ("denied", "denied.example", "{name: denied-cert, namespace: certs}"),
        )
    )
    docs = [
        f"""apiVersion: {GROUP}/v1
kind: GatewayClass
metadata: {{name: ingressctl}}
spec: {{controllerName: ingressctl.io/gateway-controller}}
""",
        f"""apiVersion: {GROUP}/v1
kind: Gateway
metadata: {{name: tls, namespace: {INFRA}}}
spec:
  gatewayClassName: ingressctl
  listeners:
{listeners}
""",
        f"""apiVersion: {GROUP}/v1beta1
kind: ReferenceGrant
metadata: {{name: certs-for-infra, namespace: certs}}
spec:
  from: [{{group: {GROUP}, kind: Gateway, namespace: {INFRA}}}]
  to: [{{group: "", kind: Secret, name: other-cert}}]
""",
        tls_secret("secure-cert", INFRA, *certs["secure.example"]),
        tls_secret("other-cert", "certs", *certs["other.example"]),
        tls_secret("denied-cert", "certs", *certs["denied.example"]),
    ]
    for host, backend in (("secure.example", "v1"), ("other.example", "v2"), ("denied.example", "v1")):
        docs.append(
            f"""apiVersion: {GROUP}/v1
kind: HTTPRoute
metadata: {{name: {host.split(".")[0]}, namespace: {INFRA}}}
spec:
  parentRefs: [{{name: tls}}]
  hostnames: [{host}]
  rules: [{{backendRefs: [{{name: {backend}, port: 8080}}]}}]
"""
        )
    docs += [service(name, INFRA, port) for name, port in backends.items()]
    return "---\n".join(docs)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, bytes]]]:
    certs = {
        host: self_signed(host, names=[host])
        for host in ("secure.example", "other.example", "denied.example")
    }
    with echo_backends("v1", "v2") as backends:
        port = free_port()
        directory = tmp_path_factory.mktemp("gateway-tls")
        (directory / "gateway.yaml").write_text(
            manifests(port, {n: b.port for n, b in backends.items()}, certs)
        )
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingressctl",
                "serve",
                "--gateway",
                "--entrypoint",
                f"websecure=127.0.0.1:{port},tls",
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
            yield port, {host: cert for host, (cert, _) in certs.items()}
        finally:
            sp.stop()


def get(port: int, host: str, trust: bytes) -> tuple[int, str]:
    """GET / on loopback with SNI `host`, trusting only `trust` (the certificate `host` should get)."""
    context = ssl.create_default_context(cadata=trust.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        resp = http.client.HTTPResponse(tls)
        resp.begin()
        body = resp.read()
        return resp.status, json.loads(body)["backend"] if resp.status == 200 else ""


def test_each_https_listener_serves_its_certificate_by_sni(served: tuple[int, dict[str, bytes]]) -> None:
    port, certs = served
    assert get(port, "secure.example", certs["secure.example"]) == (200, "v1")
    # The certificate of the Secret in another namespace, opened by the ReferenceGrant.
    assert get(port, "other.example", certs["other.example"]) == (200, "v2")


def test_a_listener_whose_secret_no_grant_opens_is_not_served(served: tuple[int, dict[str, bytes]]) -> None:
    port, certs = served
    with pytest.raises(ssl.SSLCertVerificationError):
        get(port, "denied.example", certs["denied.example"])


def test_validate_reports_the_missing_grant(served: tuple[int, dict[str, bytes]], tmp_path: Path) -> None:
    del served
    certs = {
        host: self_signed(host, names=[host])
        for host in ("secure.example", "other.example", "denied.example")
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(manifests(8443, {"v1": 9001, "v2": 9002}, certs))
    result = subprocess.run(
        [sys.executable, "-m", "ingressctl", "validate", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    findings = [f for f in json.loads(result.stdout)["findings"] if f["code"] == "IC262"]
    assert len(findings) == 1 and "denied" in findings[0]["message"], findings
    assert "RefNotPermitted" in findings[0]["message"] or "ReferenceGrant" in findings[0]["message"]
