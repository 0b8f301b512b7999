"""`ingressctl serve` with a TLS entrypoint: what a real TLS client is served and what the log says
when an Ingress's TLS Secret is rotated or broken, and when a certificate of the config file cannot
be used."""

from __future__ import annotations

import base64
import os
import re
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ingressctl.tls.selfsigned import DEFAULT_COMMON_NAME
from tests.serve.conftest import ServeProcess, lines_since, run_cli
from tests.tls.conftest import CA

HOST = "app.shop.test"

MANIFEST = """\
apiVersion: v1
kind: Secret
metadata: {{name: app-tls, namespace: shop}}
type: kubernetes.io/tls
data:
  tls.crt: {crt}
  tls.key: {key}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: app, namespace: shop}}
spec:
  tls:
  - hosts: [{host}]
    secretName: app-tls
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {{name: app, port: {{number: 80}}}}
"""

CONFIG = """\
[entryPoints.websecure]
address = "127.0.0.1:0"
  [entryPoints.websecure.tls]
"""


def write_secret(manifests: Path, crt: bytes, key: bytes) -> None:
    """Replace the manifest in one rename: the provider never reads half a file."""
    text = MANIFEST.format(crt=base64.b64encode(crt).decode(), key=base64.b64encode(key).decode(), host=HOST)
    tmp = manifests.parent / "app.yaml.tmp"
    tmp.write_text(text)
    os.replace(tmp, manifests / "app.yaml")


def served(address: str, server_name: str) -> x509.Certificate:
    """The certificate a TLS client asking for `server_name` gets (no verification: it is what we look at)."""
    host, _, port = address.rpartition(":")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        client.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def serial(pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(pem).serial_number, "x")


def encrypted(key: bytes) -> bytes:
    return serialization.load_pem_private_key(key, None).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


def pem(label: str, der: bytes) -> bytes:
    return f"-----BEGIN {label}-----\n{base64.b64encode(der).decode()}\n-----END {label}-----\n".encode()


def test_rotated_and_broken_secrets_are_served_and_logged(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    ca = CA()
    first = ca.issue([HOST], common_name="first")
    second = ca.issue([HOST], common_name="second")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    write_secret(manifests, *first)
    config = tmp_path / "traefik.toml"
    config.write_text(CONFIG)
    sp = serve("-c", str(config), "--manifests", str(manifests))
    sp.wait_ready()
    address = sp.addresses["websecure"]
    assert common_name(served(address, HOST)) == "first"
    sp.wait_for(
        rf"configuration applied: .*certificate added: Secret shop/app-tls \(serial {serial(first[0])}, "
    )

    # A rotation changes no route; the summary says which certificate is served now.
    mark = len(sp.lines)
    write_secret(manifests, *second)
    line = sp.wait_for(r"configuration applied: .*", 15, mark).group(0)
    assert line.startswith(
        "configuration applied: routes 1 (+0 -0 ~0); certificates 1 (+0 -0 ~1); "
        f"certificate changed: Secret shop/app-tls (serial {serial(second[0])}, expires "
    ), line
    assert "no change" not in line
    assert common_name(served(address, HOST)) == "second"

    broken = [
        (
            pem("CERTIFICATE", b"\x00\x01 not DER"),
            second[1],
            "tls.crt is not a PEM certificate (the DER inside cannot be parsed)",
        ),
        (second[0], first[1], "tls.key does not belong to the certificate in tls.crt"),
        (
            second[0],
            encrypted(second[1]),
            "tls.key is encrypted: give the key without a passphrase (openssl pkey -in KEY -out PLAIN)",
        ),
        (
            second[0],
            pem("PRIVATE KEY", b"\x00\x01 not DER"),
            "tls.key is not a PEM private key "
            "(the DER inside cannot be parsed, or its key type is not supported)",
        ),
    ]
    for crt, key, reason in broken:
        mark = len(sp.lines)
        write_secret(manifests, crt, key)
        warning = (
            f"WARNING ingressctl.tls: Secret shop/app-tls: {reason}; not served, "
            f"{HOST} gets the default certificate instead"
        )
        sp.wait_for(re.escape(warning) + "$", 15, mark)
        summary = sp.wait_for(r"configuration applied: .*", 15, mark).group(0)
        assert (
            f"certificates 1 (+0 -0 ~1); certificate changed: Secret shop/app-tls (not served: {reason})"
        ) in summary, summary
        # The fallback to the default certificate is intended (as in Traefik and ingress-nginx).
        assert common_name(served(address, HOST)) == DEFAULT_COMMON_NAME
        assert len(lines_since(sp, mark, "WARNING.*" + re.escape(reason))) == 1, sp.text
        assert not lines_since(sp, mark, r"ParseError|\{ kind|cryptography\.io"), sp.text

    mark = len(sp.lines)
    write_secret(manifests, *first)
    line = sp.wait_for(r"configuration applied: .*", 15, mark).group(0)
    assert f"certificate changed: Secret shop/app-tls (serial {serial(first[0])}, " in line, line
    assert common_name(served(address, HOST)) == "first"
    assert sp.proc.poll() is None


def _config_with_certificate(tmp_path: Path, crt: bytes, key: bytes) -> Path:
    (tmp_path / "site.crt").write_bytes(crt)
    (tmp_path / "site.key").write_bytes(key)
    config = tmp_path / "traefik.toml"
    config.write_text(
        CONFIG
        + '  [[entryPoints.websecure.tls.certificates]]\n  certFile = "site.crt"\n  keyFile = "site.key"\n'
    )
    (tmp_path / "manifests").mkdir()
    return config


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("not pem", "certFile {dir}/site.crt is not PEM (no -----BEGIN line)"),
        ("other key", "keyFile {dir}/site.key does not belong to the certificate in certFile {dir}/site.crt"),
        (
            "encrypted key",
            "keyFile {dir}/site.key is encrypted: "
            "give the key without a passphrase (openssl pkey -in KEY -out PLAIN)",
        ),
    ],
)
def test_a_config_certificate_that_cannot_be_served_exits_2(
    tmp_path: Path, cli_env: dict[str, str], broken: str, reason: str
) -> None:
    ca = CA()
    crt, key = ca.issue(["site.example.test"])
    if broken == "not pem":
        crt = b"hello\n"
    elif broken == "other key":
        key = ca.issue(["other.example.test"])[1]
    else:
        key = encrypted(key)
    config = _config_with_certificate(tmp_path, crt, key)
    result = run_cli(["serve", "-c", str(config), "--manifests", str(tmp_path / "manifests")], cli_env)
    assert result.returncode == 2, result.stderr
    # One line, like a missing certFile: no warning first, no second copy from another logger.
    assert result.stderr.splitlines() == [
        f"error: {config}: entryPoints.websecure.tls.certificates[0]: {reason.format(dir=tmp_path)}"
    ]


def test_an_expired_config_certificate_is_one_warning_and_not_served(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    config = _config_with_certificate(tmp_path, *CA().issue(["old.example.test"], expired=True))
    sp = serve("-c", str(config), "--manifests", str(tmp_path / "manifests"))
    sp.wait_ready()
    mentions = lines_since(sp, 0, re.escape(str(tmp_path / "site.crt")))
    assert len(mentions) == 1, sp.text
    assert re.search(r"WARNING .*: certificate \S+/site\.crt: expired on .* UTC; not served$", mentions[0])
    assert common_name(served(sp.addresses["websecure"], "old.example.test")) == DEFAULT_COMMON_NAME
