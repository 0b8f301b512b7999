"""ACME through the real `ingressctl serve` process, against a real Pebble: config, manifests, TLS client.

Shared by the tests in this folder and by `benchmarks/acme_latency.py`. Nothing here mocks anything:
the config is a Traefik-style TOML file, Ingresses are files in the watched directory, and every HTTPS
check is a real handshake verified against Pebble's issuing root (management API `/roots/0`).
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from tests import certificates
from tests.pebble import Pebble
from tests.support.manifests import app_manifest, write_atomically

_LISTENING = re.compile(r"listening: (.*)")
_API = re.compile(r"API and dashboard on http://([^/\s]+)/")


# ---------------------------------------------------------------- config and manifests


def acme_config(
    pebble: Pebble,
    storage: Path,
    *,
    challenge: str = "http",
    https_address: str = "127.0.0.1:0",
    http_address: str | None = None,
    on_host_rule: bool = True,
    on_demand: bool = False,
    on_demand_allow: tuple[str, ...] = (),
    http_redirect: bool = False,
    http_auth_users: tuple[str, ...] = (),
    acme_extra: tuple[str, ...] = (),
) -> str:
    """A Traefik v1-style traefik.toml: http + https entrypoints, the API on a free port, [acme] at Pebble.

    With the HTTP-01 challenge the http entrypoint listens on Pebble's httpPort (where Pebble validates);
    for TLS-ALPN-01 pass `https_address` = 127.0.0.1:<Pebble's tlsPort>.
    """
    http_address = http_address or (f"127.0.0.1:{pebble.http_port}" if challenge == "http" else "127.0.0.1:0")
    http_extra = ""
    if http_redirect:
        http_extra += '    [entryPoints.http.redirect]\n    entryPoint = "https"\n'
    if http_auth_users:
        users = ", ".join(json.dumps(u) for u in http_auth_users)
        http_extra += f"    [entryPoints.http.auth.basic]\n    users = [{users}]\n"
    lines = [
        'logLevel = "INFO"',
        'defaultEntryPoints = ["http", "https"]',
        "[entryPoints]",
        "  [entryPoints.http]",
        f'  address = "{http_address}"',
        http_extra.rstrip("\n"),
        "  [entryPoints.https]",
        f'  address = "{https_address}"',
        "    [entryPoints.https.tls]",
        "[api]",
        'address = "127.0.0.1:0"',
        "insecure = true",
        "[acme]",
        'email = "ops@example.test"',
        f"storage = {json.dumps(str(storage))}",
        'entryPoint = "https"',
        f'caServer = "{pebble.directory_url}"',
        f"caBundle = {json.dumps(str(pebble.api_ca))}",
        f"onHostRule = {str(on_host_rule).lower()}",
        f"onDemand = {str(on_demand).lower()}",
    ]
    if on_demand_allow:
        lines.append("onDemandAllow = [" + ", ".join(json.dumps(p) for p in on_demand_allow) + "]")
    lines += list(acme_extra)  # more [acme] keys, e.g. "ordersPerHour = 1"
    if challenge == "http":
        lines += ["[acme.httpChallenge]", 'entryPoint = "http"']
    else:
        lines += ["[acme.tlsChallenge]"]
    return "\n".join(line for line in lines if line) + "\n"


def tls_ingress(
    name: str,
    host: str,
    backend_port: int,
    *,
    secret: str | None = None,
    annotations: dict[str, str] | None = None,
) -> str:
    """Ingress (+ Service + EndpointSlice) for `host` with a `spec.tls` entry (ACME when no secretName)."""
    extra = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in (annotations or {}).items())
    tls = f"  - hosts: [{host}]\n" + (f"    secretName: {secret}\n" if secret else "")
    return app_manifest(name, host, "/", backend_port, extra).replace(
        "spec:\n  rules:", f"spec:\n  tls:\n{tls}  rules:", 1
    )


def tls_secret(name: str, cert_pem: bytes, key_pem: bytes) -> str:
    crt, key = base64.b64encode(cert_pem).decode(), base64.b64encode(key_pem).decode()
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"type: kubernetes.io/tls\ndata:\n  tls.crt: {crt}\n  tls.key: {key}\n"
    )


def htpasswd_secret(name: str, lines: tuple[str, ...]) -> str:
    auth = base64.b64encode(("\n".join(lines) + "\n").encode()).decode()
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\n"
        f"type: Opaque\ndata:\n  auth: {auth}\n"
    )


def self_signed(host: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `host` (what a user puts into a TLS Secret): (cert PEM, key PEM)."""
    ca = x509.BasicConstraints(ca=True, path_length=None)
    return certificates.self_signed(host, names=[host], extensions=[(ca, True)])


# ---------------------------------------------------------------- loopback backend


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"backend {self.headers.get('Host', '')} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def echo_backend() -> Iterator[int]:
    """A real HTTP backend on 127.0.0.1 that answers `backend <Host> <path>`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- TLS client


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    leaf: x509.Certificate


def https_get(
    address: str,
    server_name: str,
    path: str = "/",
    *,
    cafile: Path | None,
    timeout: float = 5.0,
) -> Answer:
    """One HTTPS request with SNI `server_name`. `cafile` = the trust anchor; None = look without trusting.

    With a `cafile`, the handshake fails (ssl.SSLCertVerificationError) unless the served chain verifies
    for `server_name`: that is the check a browser makes.
    """
    if cafile is not None:
        ctx = ssl.create_default_context(cafile=str(cafile))
    else:  # only to see *which* certificate is served (e.g. the default one); never to accept it
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    host, _, port = address.rpartition(":")
    with (
        socket.create_connection((host, int(port)), timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return Answer(*_parse(data), x509.load_der_x509_certificate(der))


def http_get(address: str, host: str, path: str, headers: dict[str, str] | None = None) -> Answer | None:
    """Plain HTTP/1.1 (no certificate): returns status, headers, body (leaf is unused)."""
    h, _, port = address.rpartition(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with socket.create_connection((h, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status, hdrs, body = _parse(data)
    return Answer(status, hdrs, body, None)  # type: ignore[arg-type]


def _parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def wait_verified(
    address: str,
    server_name: str,
    cafile: Path,
    *,
    timeout: float = 20.0,
    interval: float = 0.02,
    status: int = 200,
) -> tuple[Answer, float]:
    """Poll (every `interval`) until an HTTPS request to `server_name` verifies against `cafile` and
    answers `status`. Returns the answer and the monotonic time it succeeded."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            answer = https_get(address, server_name, "/", cafile=cafile, timeout=2)
            if answer.status == status:
                return answer, time.monotonic()
            last = AssertionError(f"HTTP {answer.status}: {answer.body[:200]!r}")
        except (ssl.SSLError, OSError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"no verified HTTPS answer for {server_name} within {timeout}s: {last!r}")


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(n) for n in san.get_values_for_type(x509.DNSName)]


# ---------------------------------------------------------------- the serve process


@dataclass
class Serve:
    """`ingressctl serve --config FILE --manifests DIR` in a subprocess; stderr collected by a thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    api: str = ""

    @classmethod
    def start(cls, config: Path, manifests: Path, env: dict[str, str] | None = None) -> Serve:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ingressctl",
                "serve",
                "--config",
                str(config),
                "--manifests",
                str(manifests),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        serve = cls(proc)
        threading.Thread(target=serve._read, daemon=True).start()
        return serve

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20.0, start: int = 0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines[start:]):
                if m := regex.search(line):
                    return m
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the reader drain
                for line in list(self.lines[start:]):
                    if m := regex.search(line):
                        return m
                raise AssertionError(
                    f"serve exited ({self.proc.returncode}) before {pattern!r}:\n{self.text}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.text}")
            time.sleep(0.02)

    def wait_ready(self) -> Serve:
        m = self.wait_for(_LISTENING.pattern)
        for part in m.group(1).split(", "):
            name, _, addr = part.partition("=")
            self.addresses[name] = addr
        self.wait_for(r"configuration applied")
        api = self.wait_for(_API.pattern)
        self.api = api.group(1)
        return self

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return sum(1 for line in list(self.lines) if regex.search(line))

    def api_json(self, path: str) -> object:
        return json.loads(self.api_get(path))

    def api_get(self, path: str) -> bytes:
        import urllib.request

        with urllib.request.urlopen(f"http://{self.api}{path}", timeout=5) as resp:
            data: bytes = resp.read()
            return data

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def run_serve(config: Path, manifests: Path, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """`serve` that is expected to exit by itself (a startup error)."""
    return subprocess.run(
        [sys.executable, "-m", "ingressctl", "serve", "--config", str(config), "--manifests", str(manifests)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )


def write_manifest(directory: Path, name: str, text: str) -> None:
    write_atomically(directory / f"{name}.yaml", text)


def pebble_orders(pebble: Pebble, storage: Path, resolver: str = "default") -> list[list[str]]:
    """What Pebble itself recorded: the identifiers of every order of the account stored in acme.json.

    Asks the CA, signed with the stored account key (POST-as-GET of the account, then its orders list),
    so "never ordered" is checked at the CA and not only in ingressctl's own bookkeeping.
    """
    from acme import client, messages
    from josepy.jwa import RS256
    from josepy.jwk import JWKRSA

    from ingressctl.acme.keys import account_key_from_der

    account = json.loads(storage.read_text())[resolver]["Account"]
    key = account_key_from_der(base64.b64decode(account["PrivateKey"]))
    uri = account["Registration"]["uri"]
    net = client.ClientNetwork(
        JWKRSA(key=key),
        alg=RS256,
        verify_ssl=str(pebble.api_ca),  # type: ignore[arg-type]  # passed on to requests' verify=
        account=messages.RegistrationResource(uri=uri, body=messages.Registration()),
    )
    new_nonce = f"https://127.0.0.1:{pebble.port}/nonce-plz"
    orders_url = net.post(uri, None, new_nonce_url=new_nonce).json()["orders"]
    found: list[list[str]] = []
    url: str | None = orders_url
    while url:
        resp = net.post(url, None, new_nonce_url=new_nonce)
        for order_url in resp.json().get("orders", []):
            order = net.post(order_url, None, new_nonce_url=new_nonce).json()
            found.append(sorted(i["value"] for i in order["identifiers"]))
        url = resp.links.get("next", {}).get("url")
    return found


def pebble_requests(pebble: Pebble, endpoint: str) -> int:
    """How many requests Pebble has handled for `endpoint` (e.g. "/sign-me-up" = newAccount,
    "/order-plz" = newOrder), from its own log: every account's, also one ingressctl lost."""
    log = pebble.workdir / f"pebble-{pebble.port}.log"
    needle = f"POST {endpoint}"
    return sum(1 for line in log.read_text(errors="replace").splitlines() if needle in line)
