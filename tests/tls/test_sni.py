"""SNI selection over real TLS handshakes on loopback: exact, wildcard, default, no SNI, precedence."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from pathlib import Path

import pytest

from ingressctl.model import ObjectRef, TLSCertificate
from ingressctl.tls.contexts import load_into
from ingressctl.tls.index import CertificateSource
from ingressctl.tls.selfsigned import DEFAULT_COMMON_NAME, DEFAULT_SAN
from ingressctl.tls.store import CertificateInput, CertificateStore
from tests.tls.conftest import CA, Serve


def secret(name: str, pair: tuple[bytes, bytes], hosts: tuple[str, ...] = ()) -> TLSCertificate:
    return TLSCertificate(
        hosts=hosts, secret=ObjectRef("Secret", "default", name), cert_pem=pair[0], key_pem=pair[1]
    )


@pytest.fixture
def store(ca: CA) -> CertificateStore:
    store = CertificateStore()
    store.update(
        [
            secret("exact", ca.issue(["a.example.test"]), ("a.example.test",)),
            secret("wild", ca.issue(["*.example.test"]), ("*.example.test",)),
        ]
    )
    return store


async def test_exact_name_verifies_against_the_ca(
    store: CertificateStore, serve: Serve, ca_file: Path
) -> None:
    server = await serve(store)
    shake = await server.handshake("a.example.test", cafile=ca_file)  # check_hostname: really valid
    assert shake.names == ("a.example.test",)
    assert shake.alpn == "h2"  # offered first on every TLS entrypoint
    assert shake.server_answer == "a.example.test|True"


async def test_wildcard_covers_exactly_one_label(
    store: CertificateStore, serve: Serve, ca_file: Path
) -> None:
    server = await serve(store)
    assert (await server.handshake("b.example.test", cafile=ca_file)).names == ("*.example.test",)
    assert (await server.handshake("B.Example.Test.", cafile=None)).names == ("*.example.test",)
    for name in ("x.b.example.test", "example.test"):
        shake = await server.handshake(name)
        assert shake.common_name == DEFAULT_COMMON_NAME, name


async def test_unknown_name_and_no_sni_get_the_default(store: CertificateStore, serve: Serve) -> None:
    server = await serve(store)
    for name in ("other.test", None):
        shake = await server.handshake(name, host="a.example.test")
        assert shake.common_name == DEFAULT_COMMON_NAME
        assert shake.names == (DEFAULT_SAN,)
    # No SNI: the Host cannot be checked against anything, so it is allowed (old clients).
    assert shake.server_answer == "|True"


async def test_tls_1_1_is_refused_and_1_3_minimum_refuses_1_2(store: CertificateStore, serve: Serve) -> None:
    server = await serve(store)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client even try
    with warnings.catch_warnings():  # naming TLS 1.0/1.1 is deprecated, which is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await server.handshake("a.example.test", client=old)
    # Control: the same client does speak TLS 1.1 to a server that allows it, so the refusal is ours.
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    load_into(permissive, store.select(None).parsed)
    control = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=permissive)
    try:
        port = control.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=old, server_hostname="x")
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.1"
        writer.close()
    finally:
        control.close()

    tls12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls12.check_hostname = False
    tls12.verify_mode = ssl.CERT_NONE
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert (await server.handshake("a.example.test", client=tls12)).version == "TLSv1.2"
    strict = await serve(store, "1.3")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await strict.handshake("a.example.test", client=tls12)
    shake = await strict.handshake("a.example.test")
    assert shake.version == "TLSv1.3" and shake.names == ("a.example.test",)


async def test_exact_beats_wildcard_and_precedence_between_sources(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    store.replace(
        CertificateSource.FILE, [CertificateInput(*ca.issue(["p.example.test", "f.example.test"]), "file")]
    )
    store.replace(
        CertificateSource.ACME, [CertificateInput(*ca.issue(["p.example.test", "q.example.test"]), "acme")]
    )
    # Secret: a wildcard, claimed by the Ingress for q.example.test: it beats ACME's exact q certificate.
    store.update([secret("wild", ca.issue(["*.example.test"]), ("q.example.test",))])
    server = await serve(store)
    assert (await server.handshake("p.example.test")).names == (
        "p.example.test",
        "q.example.test",
    )  # ACME > file
    assert (await server.handshake("f.example.test")).names == (
        "p.example.test",
        "f.example.test",
    )  # file only
    assert (await server.handshake("q.example.test")).names == ("*.example.test",)  # claimed Secret
    assert (await server.handshake("z.example.test")).names == ("*.example.test",)  # wildcard
    assert store.select("p.example.test").source is CertificateSource.ACME
    assert store.has_certificate("z.example.test") and not store.has_certificate("nothing.test")


async def test_chain_with_intermediate_and_other_key_types(ca: CA, serve: Serve, ca_file: Path) -> None:
    inter = ca.intermediate()
    store = CertificateStore()
    store.update(
        [
            secret("chain", inter.issue(["chain.example.test"])),
            secret("rsa", ca.issue(["rsa.example.test"], key_type="rsa")),
            secret("ed", ca.issue(["ed.example.test"], key_type="ed25519")),
        ]
    )
    assert store.problems == ()
    server = await serve(store)
    # The client trusts only the root: the server must send the intermediate.
    for name in ("chain.example.test", "rsa.example.test", "ed.example.test"):
        assert (await server.handshake(name, cafile=ca_file)).names == (name,)


async def test_host_not_covered_on_a_reused_connection_is_flagged(
    store: CertificateStore, serve: Serve
) -> None:
    server = await serve(store)
    reader, writer = await server.connect("a.example.test")
    try:
        answers = []
        for host in ("a.example.test", "A.example.test:443", "b.example.test", "other.test"):
            writer.write(f"{host}\n".encode())
            answers.append((await reader.readline()).decode().strip())
    finally:
        writer.close()
    # a.example.test's certificate covers only itself: other names must go to a new connection (421).
    assert answers == [
        "a.example.test|True",
        "a.example.test|True",
        "a.example.test|False",
        "a.example.test|False",
    ]
    reader, writer = await server.connect("b.example.test")
    try:
        writer.write(b"c.example.test\n")
        assert (await reader.readline()).decode().strip() == "b.example.test|True"  # same wildcard
    finally:
        writer.close()
    assert store.names_for("b.example.test") == frozenset({"*.example.test"})
