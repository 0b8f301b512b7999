"""Updating the store while serving; bad input skipped with a recorded problem; hooks for ACME."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ingressctl.model import ConfigError, ObjectRef, TLSCertificate
from ingressctl.model.config import CertificateFile, EntryPoint, EntryPointTLS, StaticConfig
from ingressctl.tls.contexts import certificate_context
from ingressctl.tls.handshake import challenge_connection
from ingressctl.tls.index import CertificateSource
from ingressctl.tls.pem import parse_pair
from ingressctl.tls.selfsigned import DEFAULT_COMMON_NAME, DEFAULT_SAN, generate_default_certificate
from ingressctl.tls.store import CertificateInput, CertificateStore
from tests.certificates import self_signed
from tests.tls.conftest import CA, Serve


def secret(name: str, pair: tuple[bytes, bytes], hosts: tuple[str, ...] = ()) -> TLSCertificate:
    return TLSCertificate(
        hosts=hosts, secret=ObjectRef("Secret", "web", name), cert_pem=pair[0], key_pem=pair[1]
    )


async def test_replacing_certificates_while_serving(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    first = ca.issue(["site.example.test"], common_name="first")
    store.update([secret("site", first)])
    server = await serve(store)
    reader, writer = await server.connect("site.example.test")  # stays open across the update
    try:
        assert (await server.handshake("site.example.test")).common_name == "first"
        store.update([secret("site", ca.issue(["site.example.test"], common_name="second"))])
        assert (await server.handshake("site.example.test")).common_name == "second"
        # The connection made before the update still works, with the certificate it got.
        writer.write(b"site.example.test\n")
        assert (await asyncio.wait_for(reader.readline(), 5)).decode().strip() == "site.example.test|True"
        peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert "first" in x509.load_der_x509_certificate(peer).subject.rfc4514_string()
        # Removing the Secret falls back to the default certificate for new connections.
        store.update([])
        assert (await server.handshake("site.example.test")).common_name == DEFAULT_COMMON_NAME
    finally:
        writer.close()


async def test_many_concurrent_handshakes_during_updates(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    pairs = [ca.issue(["load.example.test"], common_name=f"gen{i}") for i in range(4)]
    store.update([secret("load", pairs[0])])
    server = await serve(store)

    async def updates() -> None:
        for i in range(20):
            store.update([secret("load", pairs[i % 4])])
            await asyncio.sleep(0)

    results = await asyncio.gather(updates(), *(server.handshake("load.example.test") for _ in range(30)))
    names = {r.common_name for r in results[1:]}  # type: ignore[union-attr]
    assert names <= {f"gen{i}" for i in range(4)}


async def test_bad_pem_is_skipped_and_recorded(ca: CA, serve: Serve) -> None:
    good = ca.issue(["good.example.test"])
    other = ca.issue(["other.example.test"])
    store = CertificateStore()
    store.update(
        [
            secret("garbage", (b"not a certificate", b"nor a key")),
            secret("truncated", (good[0][:200], good[1])),
            secret("mismatch", (good[0], other[1])),
            secret("good", good),
        ]
    )
    messages = {p.origin: p.message for p in store.problems}
    assert messages == {
        "Secret web/garbage": "tls.crt is not PEM (no -----BEGIN line); not served",
        "Secret web/truncated": (
            "tls.crt is not valid PEM (a -----BEGIN line without its matching -----END line: truncated?)"
            "; not served"
        ),
        "Secret web/mismatch": "tls.key does not belong to the certificate in tls.crt; not served",
    }
    assert all(p.source is CertificateSource.SECRET for p in store.problems)
    server = await serve(store)
    assert (await server.handshake("good.example.test")).names == ("good.example.test",)
    # A later good update clears the problems.
    store.update([secret("good", good)])
    assert store.problems == ()


async def test_expired_and_uncovered_hosts_are_problems(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    store.replace(CertificateSource.ACME, [CertificateInput(*ca.issue(["old.example.test"]), "acme")])
    store.update(
        [
            secret("old", ca.issue(["old.example.test"], expired=True)),
            secret("narrow", ca.issue(["x.example.test"]), ("x.example.test", "y.example.test")),
        ]
    )
    problems = {(p.origin, p.message.split(" on ")[0]) for p in store.problems}
    assert problems == {
        ("Secret web/old", "expired"),
        ("Secret web/narrow", "does not cover host y.example.test"),
    }
    server = await serve(store)
    # The expired Secret is not served: the (valid) ACME certificate takes over.
    assert store.select("old.example.test").source is CertificateSource.ACME
    assert (await server.handshake("y.example.test")).common_name == DEFAULT_COMMON_NAME
    infos = {i.origin: i for i in store.infos()}
    assert infos["Secret web/narrow"].problems == ("does not cover host y.example.test",)
    assert infos["default"].source.value == "default" and infos["default"].names[0] == DEFAULT_COMMON_NAME


def _static(*pairs: CertificateFile) -> StaticConfig:
    return StaticConfig(
        entrypoints=(EntryPoint("https", ":0", tls=EntryPointTLS(tuple(pairs))),), source="/etc/traefik.toml"
    )


async def test_files_and_inline_pem(ca: CA, tmp_path: Path, serve: Serve) -> None:
    cert, key = ca.issue(["file.example.test"])
    (tmp_path / "f.crt").write_bytes(cert)
    (tmp_path / "f.key").write_bytes(key)
    inline = ca.issue(["inline.example.test"])
    static = _static(
        CertificateFile(str(tmp_path / "f.crt"), str(tmp_path / "f.key")),
        CertificateFile(inline[0].decode(), inline[1].decode()),
    )
    store = CertificateStore()
    assert store.load_static(static) == ()
    server = await serve(store)
    assert (await server.handshake("file.example.test")).names == ("file.example.test",)
    assert (await server.handshake("inline.example.test")).names == ("inline.example.test",)
    assert store.select("file.example.test").origin == str(tmp_path / "f.crt")


async def test_config_certificates_that_cannot_be_served_are_config_errors(
    ca: CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = ca.issue(["file.example.test"])
    _, other_key = ca.issue(["other.example.test"])
    files = {"ok.crt": cert, "ok.key": key, "other.key": other_key, "text.crt": b"hello\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    encrypted = serialization.load_pem_private_key(key, None).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    (tmp_path / "locked.key").write_bytes(encrypted)
    p = tmp_path
    static = _static(
        CertificateFile(str(p / "text.crt"), str(p / "ok.key")),
        CertificateFile(str(p / "ok.crt"), str(p / "other.key")),
        CertificateFile(str(p / "ok.crt"), str(p / "locked.key")),
        CertificateFile(str(p / "gone.crt"), str(p / "ok.key")),
        CertificateFile(str(p / "ok.crt"), str(p / "ok.key")),
    )
    store = CertificateStore()
    with pytest.raises(ConfigError) as raised:
        store.load_static(static)
    where = "/etc/traefik.toml: entryPoints.https.tls.certificates"
    assert str(raised.value).splitlines() == [
        f"{where}[0]: certFile {p}/text.crt is not PEM (no -----BEGIN line)",
        f"{where}[1]: keyFile {p}/other.key does not belong to the certificate in certFile {p}/ok.crt",
        f"{where}[2]: keyFile {p}/locked.key is encrypted: give the key without a passphrase "
        "(openssl pkey -in KEY -out PLAIN)",
        f"{where}[3]: certFile {p}/gone.crt cannot be read: No such file or directory",
    ]
    assert caplog.records == []  # the caller reports the error (exit 2), once
    assert store.certificates(CertificateSource.FILE) == ()


async def test_an_expired_config_certificate_is_returned_not_logged(
    ca: CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = ca.issue(["old.example.test"], expired=True)
    (tmp_path / "old.crt").write_bytes(cert)
    (tmp_path / "old.key").write_bytes(key)
    store = CertificateStore()
    (problem,) = store.load_static(
        _static(CertificateFile(str(tmp_path / "old.crt"), str(tmp_path / "old.key")))
    )
    assert str(problem).startswith(f"certificate {tmp_path}/old.crt: expired on ")
    assert problem.message.endswith("; not served")
    assert caplog.records == []  # serve logs what load_static returns: logging here too said it twice
    assert store.select("old.example.test").source is CertificateSource.DEFAULT


async def test_tls_alpn_challenge_is_consulted_first(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    store.update([secret("site", ca.issue(["renew.example.test"]))])
    challenge_ctx = certificate_context(
        parse_pair(*ca.issue(["renew.example.test"], common_name="challenge"))
    )
    challenge_ctx.set_alpn_protocols(["acme-tls/1"])
    pending = {"renew.example.test": challenge_ctx}
    store.set_alpn_challenge_provider(pending.get)
    server = await serve(store)

    validator = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    validator.check_hostname = False
    validator.verify_mode = ssl.CERT_NONE
    validator.set_alpn_protocols(["acme-tls/1"])
    _, writer = await server.connect("renew.example.test", client=validator)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "acme-tls/1"
        peer = x509.load_der_x509_certificate(ssl_object.getpeercert(binary_form=True))
        assert "challenge" in peer.subject.rfc4514_string()
    finally:
        writer.close()
    pending.clear()
    assert (await server.handshake("renew.example.test")).common_name == "renew.example.test"


async def test_callback_never_raises_and_miss_listener(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    store.update([secret("site", ca.issue(["ok.example.test"]))])
    misses: list[str] = []
    store.set_miss_listener(misses.append)
    server = await serve(store)
    await server.handshake("Unknown.Example.Test")
    await server.handshake(None)
    assert misses == ["unknown.example.test"]  # no SNI is not a miss

    def broken(name: str) -> ssl.SSLContext | None:
        raise RuntimeError("provider bug")

    store.set_alpn_challenge_provider(broken)
    shake = await server.handshake("ok.example.test")  # handshake still completes, with the base default
    assert shake.common_name == DEFAULT_COMMON_NAME


def test_challenge_connection_flag() -> None:
    class Fake:
        pass

    fake = Fake()
    assert not challenge_connection(fake)
    fake.ingressctl_acme_challenge = True  # type: ignore[attr-defined]
    assert challenge_connection(fake)


def test_default_certificate_is_ec_p256_for_one_year() -> None:
    before = datetime.datetime.now(datetime.UTC)
    cert_pem, key_pem = generate_default_certificate()
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert cert.subject.rfc4514_string() == f"CN={DEFAULT_COMMON_NAME}"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [DEFAULT_SAN]
    lifetime = cert.not_valid_after_utc - before
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=366)
    parsed = parse_pair(cert_pem, key_pem)
    assert parsed.names == (DEFAULT_SAN,)


def test_unchanged_secrets_reuse_contexts(ca: CA) -> None:
    pair = ca.issue(["same.example.test"])
    store = CertificateStore()
    store.update([secret("same", pair)])
    first = store.select("same.example.test").context
    store.update([secret("same", pair)])
    store.update([secret("same", pair), secret("more", ca.issue(["more.example.test"]))])
    assert store.select("same.example.test").context is first


def test_set_default_and_bad_default() -> None:
    store = CertificateStore()
    cert, key = generate_default_certificate()
    store.set_default(cert, key)
    assert store.select(None).parsed.cert_pem == parse_pair(cert, key).cert_pem
    with pytest.raises(ValueError):
        store.set_default(b"junk", b"junk")
    with pytest.raises(ValueError):
        store.replace(CertificateSource.DEFAULT, [])


async def test_acme_certificates_arrive_one_at_a_time(ca: CA, serve: Serve) -> None:
    store = CertificateStore()
    server = await serve(store)
    store.add(
        CertificateSource.ACME,
        [CertificateInput(*ca.issue(["one.example.test"], common_name="v1"), "ACME one")],
    )
    store.add(CertificateSource.ACME, [CertificateInput(*ca.issue(["two.example.test"]), "ACME two")])
    assert (await server.handshake("one.example.test")).common_name == "v1"
    # A renewal replaces the certificate with the same origin, and leaves the others alone.
    store.add(
        CertificateSource.ACME,
        [CertificateInput(*ca.issue(["one.example.test"], common_name="v2"), "ACME one")],
    )
    assert (await server.handshake("one.example.test")).common_name == "v2"
    assert [c.origin for c in store.certificates(CertificateSource.ACME)] == ["ACME two", "ACME one"]
    store.add(CertificateSource.ACME, [CertificateInput(b"junk", b"junk", "ACME bad")])
    assert [p.origin for p in store.problems] == ["ACME bad"]
    store.remove(CertificateSource.ACME, "ACME two")
    store.remove(CertificateSource.ACME, "ACME bad")
    assert store.problems == ()
    assert (await server.handshake("two.example.test")).common_name == DEFAULT_COMMON_NAME
    with pytest.raises(ValueError):
        store.remove(CertificateSource.DEFAULT, "default")


def test_a_certificate_with_an_unparseable_extension_is_a_problem_not_an_exception() -> None:
    from cryptography.x509.oid import ExtensionOID

    garbage_san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x00garbage")
    pair = self_signed(
        "broken.example.test",
        serial=1,
        not_before=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1),
        days=1,
        extensions=[(garbage_san, False)],
    )
    store = CertificateStore()
    store.update([secret("broken", pair)])
    (problem,) = store.problems
    assert problem.origin == "Secret web/broken"
    # Named in words, with only the first words of cryptography's message (not its Rust debug output).
    assert problem.message == (
        "tls.crt holds a certificate with a malformed field (error parsing asn1 value); not served"
    )


async def test_a_certificate_that_expires_while_serving_gives_way(ca: CA, serve: Serve) -> None:
    now = [datetime.datetime.now(datetime.UTC)]
    store = CertificateStore(clock=lambda: now[0])
    acme = ca.issue(["app.example.test"], days=60, common_name="from acme")
    store.replace(CertificateSource.ACME, [CertificateInput(*acme, "acme")])
    store.update([secret("app", ca.issue(["app.example.test"], days=2, common_name="from the secret"))])
    server = await serve(store)
    assert (await server.handshake("app.example.test")).common_name == "from the secret"
    assert store.problems == ()
    now[0] += datetime.timedelta(days=3)
    # No update arrived: the next handshake notices the expiry and the ACME certificate takes over.
    assert (await server.handshake("app.example.test")).common_name == "from acme"
    assert store.select("app.example.test").source is CertificateSource.ACME
    ((origin, message),) = [(p.origin, p.message) for p in store.problems]
    assert origin == "Secret web/app" and message.startswith("expired on ") and message.endswith("not served")


def test_a_key_openssl_refuses_is_a_config_error(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    cert, key = self_signed(
        "weak.example.test",
        key=rsa.generate_private_key(public_exponent=65537, key_size=1024),  # below OpenSSL's level 1
        serial=1,
        not_before=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1),
        days=1,
    )
    (tmp_path / "weak.crt").write_bytes(cert)
    (tmp_path / "weak.key").write_bytes(key)
    with pytest.raises(ConfigError) as raised:
        CertificateStore().load_files(
            [CertificateFile(str(tmp_path / "weak.crt"), str(tmp_path / "weak.key"))]
        )
    assert str(raised.value).startswith(
        f"certificate 1: certFile {tmp_path}/weak.crt and keyFile {tmp_path}/weak.key: "
        "OpenSSL refused the certificate"
    )
