"""PROXY protocol v1/v2 on real entrypoints of the real `serve`: the header's client is the peer the
backend (X-Forwarded-For), allow-lists and the access log see; untrusted or missing headers close the
connection; TLS entrypoints take the header before the ClientHello."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.certificates import self_signed
from tests.support.manifests import app_manifest, write_atomically

from .conftest import ServeProcess
from .echo import echo_backend

pytestmark = pytest.mark.timeout(90)

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source: str, port: int = 51234) -> bytes:
    family = "TCP6" if ":" in source else "TCP4"
    destination = "::1" if family == "TCP6" else "127.0.0.1"
    return f"PROXY {family} {source} {destination} {port} 443\r\n".encode()


def v2(source: str | None, port: int = 51234, tlvs: bytes = b"") -> bytes:
    """A v2 PROXY header for `source` (None: the LOCAL command), with optional raw TLV bytes."""
    if source is None:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    ip = ipaddress.ip_address(source)
    destination = ipaddress.ip_address("::1" if ip.version == 6 else "127.0.0.1")
    family = 0x21 if ip.version == 6 else 0x11  # AF_INET6/AF_INET, STREAM
    body = ip.packed + destination.packed + struct.pack("!HH", port, 443) + tlvs
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


def exchange(address: str, data: bytes, tls_name: str | None = None) -> bytes:
    """Send `data` (a PROXY header, then a request unless TLS) on a new connection; the whole answer
    (b"" when the server closed without answering)."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=20)
    try:
        if tls_name is not None:
            sock.sendall(data)
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=tls_name)
            data = b""
        sock.sendall(data + request(tls_name or "app.test"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except (ConnectionResetError, ssl.SSLError):
        return b""
    finally:
        sock.close()


def request(host: str) -> bytes:
    return f"GET /whoami HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def answer(raw: bytes) -> tuple[int, dict[str, str]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (json.loads(body) if status == 200 else {})


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    async with echo_backend() as port:
        yield port


def manifests(tmp_path: Path, port: int, allow: str | None = None) -> Path:
    path = tmp_path / "apps.yaml"
    annotation = f'    ingress.kubernetes.io/whitelist-source-range: "{allow}"\n' if allow else ""
    parts = [app_manifest("app", "app.test", "/", port)]
    if allow:
        parts.append(app_manifest("guarded", "guarded.test", "/", port, annotation))
    write_atomically(path, "---\n".join(parts))
    return path


def start(serve: Callable[..., ServeProcess], *args: str) -> ServeProcess:
    sp = serve(*args)
    sp.wait_ready()
    return sp


async def test_v1_and_v2_headers_from_a_trusted_peer_set_the_client_address(
    tmp_path: Path, echo: int, serve_with_access_log: Callable[..., ServeProcess]
) -> None:
    sp = await asyncio.to_thread(
        start,
        serve_with_access_log,
        "--manifests",
        str(manifests(tmp_path, echo)),
        "--entrypoint",
        "web=127.0.0.1:0,proxy-protocol=127.0.0.0/8",
        "--access-log",
    )
    address = sp.addresses["web"]
    cases = [
        (v1("203.0.113.7"), "203.0.113.7"),
        (v1("2001:db8::7"), "2001:db8::7"),
        (v2("198.51.100.9"), "198.51.100.9"),
        # TLVs (here an ALPN and a vendor one) are skipped.
        (v2("2001:db8::9", tlvs=b"\x01\x00\x02h2" + b"\xea\x00\x03abc"), "2001:db8::9"),
        (v2(None), "127.0.0.1"),  # LOCAL (a balancer's health check): the connection's own address
        (b"PROXY UNKNOWN\r\n", "127.0.0.1"),
    ]
    for header, client in cases:
        status, seen = answer(await asyncio.to_thread(exchange, address, header))
        assert status == 200, header
        assert (seen["X-Forwarded-For"], seen["X-Real-Ip"]) == (client, client), header
    # The access log names the header's client, not the balancer.
    sp.wait_for(r"^203\.0\.113\.7 .*\"GET /whoami HTTP/1\.1\" 200")


async def test_refused_connections_are_closed_without_an_answer(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    path = manifests(tmp_path, echo)
    # 127.0.0.1 trusted: it must send a header. 10.9.9.9 trusted: 127.0.0.1 is a direct client.
    sp = await asyncio.to_thread(
        start,
        serve,
        "--manifests",
        str(path),
        "--entrypoint",
        "lb=127.0.0.1:0,proxy-protocol=127.0.0.1",
        "--entrypoint",
        "direct=127.0.0.1:0,proxy-protocol=10.9.9.9/32",
    )
    lb, direct = sp.addresses["lb"], sp.addresses["direct"]
    # A trusted peer without a header, or with a malformed one: closed, never a 400.
    for data in (b"", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n"):
        assert await asyncio.to_thread(exchange, lb, data) == b"", data
    assert await asyncio.to_thread(exchange, lb, V2_SIGNATURE + b"\x31\x11\x00\x00") == b""  # version 3
    # An untrusted peer is served as itself ...
    status, seen = answer(await asyncio.to_thread(exchange, direct, b""))
    assert status == 200 and seen["X-Forwarded-For"] == "127.0.0.1"
    # ... and may not pick its address with a header of either version.
    assert await asyncio.to_thread(exchange, direct, v1("203.0.113.7")) == b""
    assert await asyncio.to_thread(exchange, direct, v2("203.0.113.7")) == b""
    sp.wait_for(r"entrypoint lb: closed a connection from 127\.0\.0\.1: no PROXY header")
    # The server is still up and serving.
    status, _ = answer(await asyncio.to_thread(exchange, lb, v1("203.0.113.8")))
    assert status == 200


async def test_the_allow_list_sees_the_header_client(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    path = manifests(tmp_path, echo, allow="203.0.113.0/24")
    sp = await asyncio.to_thread(
        start, serve, "--manifests", str(path), "--entrypoint", "web=127.0.0.1:0,proxy-protocol=127.0.0.1"
    )
    address = sp.addresses["web"]

    def guarded(header: bytes) -> int:
        host, _, port = address.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(header + request("guarded.test"))
            raw = b"".join(iter(lambda: sock.recv(65536), b""))
        return int(raw.split(b" ", 2)[1])

    assert await asyncio.to_thread(guarded, v1("203.0.113.50")) == 200
    assert await asyncio.to_thread(guarded, v2("198.51.100.1")) == 403
    assert await asyncio.to_thread(guarded, v2(None)) == 403  # LOCAL: 127.0.0.1 is not allowed


async def test_tls_entrypoint_reads_the_header_before_the_client_hello(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    cert, key = self_signed("app.test", names=["app.test"])
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    sp = await asyncio.to_thread(
        start,
        serve,
        "--manifests",
        str(manifests(tmp_path, echo)),
        "--entrypoint",
        "websecure=127.0.0.1:0,tls,proxy-protocol=127.0.0.1",
        "--default-certificate",
        f"{tmp_path / 'tls.crt'},{tmp_path / 'tls.key'}",
    )
    address = sp.addresses["websecure"]
    for header, client in ((v1("203.0.113.7"), "203.0.113.7"), (v2("2001:db8::5"), "2001:db8::5")):
        status, seen = answer(await asyncio.to_thread(exchange, address, header, "app.test"))
        assert status == 200 and seen["X-Forwarded-For"] == client
    # Without the header the TLS handshake never starts.
    assert await asyncio.to_thread(exchange, address, b"", "app.test") == b""


async def test_proxy_protocol_from_the_config_file_with_workers(
    tmp_path: Path, echo: int, serve: Callable[..., ServeProcess]
) -> None:
    config = tmp_path / "traefik.toml"
    config.write_text(
        '[entryPoints.web]\naddress = "127.0.0.1:0"\n'
        '  [entryPoints.web.proxyProtocol]\n  trustedIPs = ["127.0.0.1/32"]\n'
    )
    sp = await asyncio.to_thread(
        start, serve, "--config", str(config), "--manifests", str(manifests(tmp_path, echo)), "--workers", "2"
    )
    address = sp.addresses["web"]
    await asyncio.to_thread(wait_applied_by_both, sp)
    deadline = time.monotonic() + 30
    clients = set()
    # The kernel spreads the connections over both workers: each must read the header.
    while time.monotonic() < deadline and len(clients) < 8:
        client = f"203.0.113.{len(clients) + 1}"
        status, seen = answer(await asyncio.to_thread(exchange, address, v1(client)))
        assert status == 200 and seen["X-Forwarded-For"] == client
        clients.add(client)
    assert len(clients) == 8


def wait_applied_by_both(sp: ServeProcess) -> None:
    first = sp.wait_for(r"configuration applied")
    start = next(i for i, line in enumerate(sp.lines) if first.group(0) in line) + 1
    sp.wait_for(r"configuration applied", 30, start)
