"""The default certificate made in a child process (tls/default_cert.py) is the one the in-process
path would make: same parser, same fields, a pair OpenSSL serves."""

from __future__ import annotations

import datetime
import ssl
import subprocess
import sys
from pathlib import Path

from ingressctl.tls.default_cert import decode, encode
from ingressctl.tls.pem import parse_pair
from ingressctl.tls.selfsigned import DEFAULT_COMMON_NAME, DEFAULT_SAN


def test_the_child_process_hands_back_a_parsed_default_certificate(tmp_path: Path) -> None:
    now = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    child = subprocess.run(
        [sys.executable, "-m", "ingressctl.tls.default_cert", now.isoformat()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    parsed = decode(child.stdout)
    assert parsed == parse_pair(parsed.cert_pem, parsed.key_pem)  # every field, as the parser reads it
    assert parsed.names == (DEFAULT_SAN,) and parsed.common_name == DEFAULT_COMMON_NAME
    assert parsed.not_after - now == datetime.timedelta(days=365)
    (tmp_path / "cert.pem").write_bytes(parsed.cert_pem)
    (tmp_path / "key.pem").write_bytes(parsed.key_pem)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    assert decode(encode(parsed)) == parsed
