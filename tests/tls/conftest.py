"""A small CA issuing real certificates, and a real asyncio TLS server over loopback using the store."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from ingressctl.tls.handshake import host_allowed
from ingressctl.tls.store import CertificateStore
from tests import certificates

NOW = datetime.datetime.now(datetime.UTC)


def _key(kind: str) -> certificates.PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


class CA:
    """A root (or intermediate) certificate authority for tests."""

    def __init__(self, name: str = "ingressctl test root", parent: CA | None = None) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.parent = parent
        subject = certificates.name(name)
        issuer_key = parent.key if parent else self.key
        self.cert: x509.Certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.cert.subject if parent else subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(issuer_key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def intermediate(self, name: str = "ingressctl test intermediate") -> CA:
        return CA(name, parent=self)

    def issue(
        self,
        names: Sequence[str],
        key_type: str = "ec",
        days: int = 30,
        expired: bool = False,
        common_name: str | None = None,
    ) -> tuple[bytes, bytes]:
        """(leaf + chain PEM, key PEM)."""
        key = _key(key_type)
        start = NOW - datetime.timedelta(days=10 if expired else 1)
        end = NOW - datetime.timedelta(days=1) if expired else NOW + datetime.timedelta(days=days)
        builder = (
            x509.CertificateBuilder()
            .subject_name(certificates.name(common_name or names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        cert = builder.sign(self.key, hashes.SHA256())
        chain = cert.public_bytes(serialization.Encoding.PEM)
        ca: CA | None = self
        while ca is not None and ca.parent is not None:  # intermediates, not the root
            chain += ca.pem
            ca = ca.parent
        return chain, certificates.pem_key(key)


@pytest.fixture(scope="session")
def ca() -> CA:
    return CA()


@dataclass
class Handshake:
    names: tuple[str, ...]  # DNS SANs of the certificate the server sent
    common_name: str
    version: str
    alpn: str | None
    server_answer: str  # what the server saw: "<sni>|<host allowed?>"


def leaf_names(der: bytes) -> tuple[tuple[str, ...], str]:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return names, str(cn[0].value) if cn else ""


class TLSServer:
    """An asyncio TLS server with the store's SNI callback, like an entrypoint. Each connection
    reads one line (a Host) and answers with the SNI it saw and whether that Host is allowed."""

    def __init__(self, store: CertificateStore, min_version: str = "1.2") -> None:
        self.store = store
        self.context = store.ssl_context_for_entrypoint(min_version)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                ssl_object = writer.get_extra_info("ssl_object")
                host = line.decode().strip()
                sni = getattr(ssl_object, "ingressctl_server_name", None)
                writer.write(f"{sni}|{host_allowed(ssl_object, host)}\n".encode())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def connect(
        self,
        server_name: str | None,
        *,
        cafile: Path | None = None,
        client: ssl.SSLContext | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if client is None:
            client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
            if cafile is not None:
                client.load_verify_locations(cafile=str(cafile))
            else:
                client.check_hostname = False
                client.verify_mode = ssl.CERT_NONE
            client.set_alpn_protocols(["h2", "http/1.1"])
        return await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port, ssl=client, server_hostname=server_name or ""),
            timeout=5,
        )

    async def handshake(
        self,
        server_name: str | None,
        host: str = "",
        *,
        cafile: Path | None = None,
        client: ssl.SSLContext | None = None,
    ) -> Handshake:
        reader, writer = await self.connect(server_name, cafile=cafile, client=client)
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True)
            names, cn = leaf_names(der)
            writer.write(f"{host or server_name or ''}\n".encode())
            answer = (await asyncio.wait_for(reader.readline(), timeout=5)).decode().strip()
            return Handshake(names, cn, ssl_object.version(), ssl_object.selected_alpn_protocol(), answer)
        finally:
            writer.close()


Serve = Callable[..., Awaitable[TLSServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[TLSServer] = []

    async def start(store: CertificateStore, min_version: str = "1.2") -> TLSServer:
        server = TLSServer(store, min_version)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
def ca_file(ca: CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.pem)
    return path
