"""Server contexts hand the event loop an SSLObject whose read/write/pending are the C methods
(tls/contexts.DirectSSLObject): the calls the SSL transports make must behave as ssl.SSLObject's."""

from __future__ import annotations

import contextlib
import ssl
from typing import cast

import pytest

from ingressctl.tls.contexts import DirectSSLObject, certificate_context
from ingressctl.tls.pem import parse_pair
from ingressctl.tls.selfsigned import generate_default_certificate

Ends = tuple[ssl.SSLObject, ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO, ssl.MemoryBIO, ssl.MemoryBIO]


def _pair() -> Ends:
    """A server (from ingressctl's certificate context) and a client, handshaken over memory BIOs."""
    cert, key = generate_default_certificate()
    server_ctx = certificate_context(parse_pair(cert, key))
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    client_ctx.set_alpn_protocols(["http/1.1"])
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="bench.local")
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    server.do_handshake()
    client.do_handshake()
    return server, client, s_in, s_out, c_in, c_out


def test_server_side_object_reads_writes_and_reports_like_sslobject() -> None:
    server, client, s_in, s_out, c_in, c_out = _pair()
    assert isinstance(server, DirectSSLObject)
    # The rest of the SSLObject API is ssl.SSLObject's own.
    assert server.server_side and server.version() == "TLSv1.3"
    assert server.selected_alpn_protocol() == "http/1.1"

    request = b"GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n"
    client.write(request)
    s_in.write(c_out.read())
    assert server.read(5) == request[:5]  # what uvloop asks: read(n) -> bytes
    assert server.pending() == len(request) - 5
    buffer = bytearray(64)
    # And read(n, buffer) -> count, for buffered protocols (typeshed types the result as bytes).
    count = cast(int, server.read(len(buffer), buffer))
    assert bytes(buffer[:count]) == request[5:]
    assert server.pending() == 0
    with pytest.raises(ssl.SSLWantReadError):
        server.read(1024)

    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert server.write(answer) == len(answer)
    c_in.write(s_out.read())
    assert client.read(1024) == answer
