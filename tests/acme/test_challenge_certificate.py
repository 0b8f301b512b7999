"""The RFC 8737 TLS-ALPN-01 certificate, as a validating CA sees it over a real handshake."""

from __future__ import annotations

import asyncio
import hashlib
import ssl

from cryptography import x509

from ingressctl.acme.challenges import (
    ACME_IDENTIFIER_OID,
    ACME_TLS_ALPN,
    ChallengeStore,
    tls_alpn_certificate,
)


def test_certificate_carries_the_critical_acme_identifier() -> None:
    cert = x509.load_pem_x509_certificate(tls_alpn_certificate("a.example.test", "token.thumbprint")[0])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["a.example.test"]
    ident = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    assert ident.critical
    assert ident.value.value == b"\x04\x20" + hashlib.sha256(b"token.thumbprint").digest()
    # Short-lived: a challenge takes minutes, not the default certificate's year.
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 8


async def test_handshake_with_acme_alpn_gets_the_challenge_certificate() -> None:
    store = ChallengeStore()
    store.add_tls_alpn01("A.Example.Test", "token.thumbprint")

    def sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        ctx = store.tls_alpn_context(name)
        assert ctx is not None
        sock.context = ctx

    outer = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    outer.sni_callback = sni  # type: ignore[assignment]
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=outer)
    port = server.sockets[0].getsockname()[1]
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE  # a validating CA checks the extension, not a chain
    client.set_alpn_protocols([ACME_TLS_ALPN])
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname="a.example.test"
            )
            ssl_object = writer.get_extra_info("ssl_object")
            assert ssl_object.selected_alpn_protocol() == ACME_TLS_ALPN
            der = ssl_object.getpeercert(binary_form=True)
            writer.close()
    finally:
        server.close()
        await server.wait_closed()
    cert = x509.load_der_x509_certificate(der)
    ident = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    assert ident.value.value[2:] == hashlib.sha256(b"token.thumbprint").digest()
