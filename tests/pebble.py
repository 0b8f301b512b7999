"""Start Let's Encrypt's test CA, Pebble, on loopback for tests (see docs/acme-testing.md).

Reusable outside tests/acme. Either import the ready session fixtures into a conftest.py:
    from tests.pebble import challtestsrv, pebble, pebble_workdir  # noqa: F401
or call `start_challtestsrv()` / `start_pebble()` (or the `pebble_lab()` context manager) yourself.
Point the ACME client at `pebble.directory_url` with `ca_bundle=pebble.api_ca`, answer HTTP-01 on
127.0.0.1:`pebble.http_port` and TLS-ALPN-01 on 127.0.0.1:`pebble.tls_port`, and trust issued
certificates with `pebble.root_file()` (Pebble's root from its management API `/roots/0`).
Every instance gets its own free ports, so xdist workers (and other test runs on the machine) never collide.
Nothing here is committed key material: the API CA and server certificate are generated at start.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.certificates import name, pem_key

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def free_port() -> int:
    """A port that is free on 127.0.0.1 for both TCP and UDP right now (the OS picks it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{proc.args!r} did not listen on {port} within {timeout}s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def make_api_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for Pebble's HTTPS API: returns (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("ingressctl test CA for pebble API")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("pebble"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "api-ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(pem_key(key))
    os.chmod(key_path, 0o600)
    return ca_path, cert_path, key_path


@dataclass
class ChallTestSrv:
    """pebble-challtestsrv as a fake DNS only: every name resolves to 127.0.0.1, no AAAA."""

    dns_port: int
    management_port: int
    proc: subprocess.Popen[bytes]

    @property
    def dns_address(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def post(self, endpoint: str, body: dict[str, object]) -> None:
        """Call the management API, e.g. post("set-servfail", {"host": "x.example.test"})."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.management_port}/{endpoint}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()

    def stop(self) -> None:
        _stop(self.proc)


def start_challtestsrv(workdir: Path) -> ChallTestSrv:
    dns_port, mgmt_port = free_port(), free_port()
    log = workdir / f"challtestsrv-{dns_port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                CHALLTESTSRV,
                "-defaultIPv4", "127.0.0.1",
                "-defaultIPv6", "",
                "-dns01", f"127.0.0.1:{dns_port}",
                "-management", f"127.0.0.1:{mgmt_port}",
                "-http01", "", "-https01", "", "-tlsalpn01", "",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_port(mgmt_port, proc, log)
    except BaseException:
        _stop(proc)
        raise
    return ChallTestSrv(dns_port, mgmt_port, proc)


@dataclass
class Pebble:
    """A running Pebble. `http_port`/`tls_port` are where our responders must listen for validation."""

    workdir: Path
    api_ca: Path  # trust for the ACME API (not for issued certificates)
    port: int
    management_port: int
    http_port: int
    tls_port: int
    proc: subprocess.Popen[bytes]
    eab_keys: dict[str, str] = field(default_factory=dict)  # kid -> base64url HMAC key
    validity_seconds: int | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def _mgmt_get(self, path: str) -> bytes:
        ctx = ssl.create_default_context(cafile=str(self.api_ca))
        url = f"https://127.0.0.1:{self.management_port}{path}"
        with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
            data: bytes = resp.read()
            return data

    def root_pem(self) -> bytes:
        """The root that signs issued certificates (new on every Pebble start)."""
        return self._mgmt_get("/roots/0")

    def root_file(self) -> Path:
        path = self.workdir / f"pebble-root-{self.port}.pem"
        if not path.exists():
            path.write_bytes(self.root_pem())
        return path

    def cert_status(self, serial: int) -> str:
        data = json.loads(self._mgmt_get(f"/cert-status-by-serial/{serial:x}"))
        return str(data.get("Status", ""))

    def stop(self) -> None:
        _stop(self.proc)


def start_pebble(
    workdir: Path,
    dns: ChallTestSrv,
    *,
    eab_keys: dict[str, str] | None = None,
    validity_seconds: int | None = None,
    blocklist: tuple[str, ...] = ("blocked.example.test",),
    env: dict[str, str] | None = None,
) -> Pebble:
    """Start Pebble on free ports with no validation sleep, no random badNonce, no authz reuse."""
    workdir.mkdir(parents=True, exist_ok=True)
    api_ca, cert, key = make_api_tls(workdir)
    port, mgmt, http_port, tls_port = free_port(), free_port(), free_port(), free_port()
    conf: dict[str, object] = {
        "listenAddress": f"127.0.0.1:{port}",
        "managementListenAddress": f"127.0.0.1:{mgmt}",
        "certificate": str(cert),
        "privateKey": str(key),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": bool(eab_keys),
        "domainBlocklist": list(blocklist),
    }
    if eab_keys:
        conf["externalAccountMACKeys"] = eab_keys
    if validity_seconds is not None:
        conf["certificateValidityPeriod"] = validity_seconds
    config_path = workdir / f"pebble-{port}.json"
    config_path.write_text(json.dumps({"pebble": conf}, indent=2))
    proc_env = dict(os.environ)
    proc_env.update({"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"})
    proc_env.update(env or {})
    log = workdir / f"pebble-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PEBBLE, "-config", str(config_path), "-dnsserver", dns.dns_address, "-strict=false"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=proc_env,
            start_new_session=True,
        )
    try:
        _wait_port(port, proc, log)
        _wait_port(mgmt, proc, log)
    except BaseException:
        _stop(proc)
        raise
    return Pebble(
        workdir, api_ca, port, mgmt, http_port, tls_port, proc, dict(eab_keys or {}), validity_seconds
    )


def new_eab_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


@contextlib.contextmanager
def pebble_lab(workdir: Path, **kwargs: object) -> Iterator[tuple[ChallTestSrv, Pebble]]:
    """challtestsrv + Pebble for the duration of a `with` block."""
    dns = start_challtestsrv(workdir)
    try:
        pebble = start_pebble(workdir, dns, **kwargs)  # type: ignore[arg-type]
        try:
            yield dns, pebble
        finally:
            pebble.stop()
    finally:
        dns.stop()


@pytest.fixture(scope="session")
def pebble_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pebble")


@pytest.fixture(scope="session")
def challtestsrv(pebble_workdir: Path) -> Iterator[ChallTestSrv]:
    """One fake DNS per test session (per xdist worker): every name is 127.0.0.1."""
    dns = start_challtestsrv(pebble_workdir)
    yield dns
    dns.stop()


@pytest.fixture(scope="session")
def pebble(pebble_workdir: Path, challtestsrv: ChallTestSrv) -> Iterator[Pebble]:
    """One Pebble per test session (per xdist worker), on free ports."""
    p = start_pebble(pebble_workdir / "main", challtestsrv)
    yield p
    p.stop()
