"""The TLS profile of `ingressctl serve`, checked with a real client (`openssl s_client`): TLS 1.2 offers
Mozilla's intermediate suites only (ECDHE with AES-GCM or ChaCha20-Poly1305), TLS 1.0/1.1 are refused,
and `[entryPoints.X.tls] minVersion` and `cipherSuites` (Go's names, as in Traefik v1) are honoured for
every certificate the entrypoint serves (also the ones the SNI callback switches to)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serve.conftest import ServeProcess, run_cli
from tests.tls.conftest import CA

pytestmark = pytest.mark.timeout(60)

OPENSSL = shutil.which("openssl") or "openssl"
RSA_HOST = "rsa.shop.test"

CONFIG = """\
[entryPoints.websecure]
address = "127.0.0.1:0"
  [entryPoints.websecure.tls]
    [[entryPoints.websecure.tls.certificates]]
    certFile = "rsa.crt"
    keyFile = "rsa.key"
[entryPoints.modern]
address = "127.0.0.1:0"
  [entryPoints.modern.tls]
  minVersion = "VersionTLS13"
[entryPoints.custom]
address = "127.0.0.1:0"
  [entryPoints.custom.tls]
  cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]
"""


@dataclass(frozen=True)
class Outcome:
    protocol: str  # "" when the handshake failed
    cipher: str
    output: str


def s_client(address: str, *options: str, server_name: str | None = RSA_HOST) -> Outcome:
    """One handshake with the openssl command-line client (no SNI for `server_name` None); what it
    negotiated, if anything."""
    sni = ["-servername", server_name] if server_name else ["-noservername"]
    proc = subprocess.run(
        [OPENSSL, "s_client", "-connect", address, *sni, *options],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
    )
    output = proc.stdout + proc.stderr
    found = re.search(r"New, (TLSv[\d.]+), Cipher is (\S+)", output)
    if proc.returncode != 0 or found is None or found.group(2) == "(NONE)":
        return Outcome("", "", output)
    return Outcome(found.group(1), found.group(2), output)


@pytest.fixture
def profile_serve(tmp_path: Path, serve: Callable[..., ServeProcess]) -> ServeProcess:
    crt, key = CA().issue([RSA_HOST], key_type="rsa")
    (tmp_path / "rsa.crt").write_bytes(crt)
    (tmp_path / "rsa.key").write_bytes(key)
    (tmp_path / "traefik.toml").write_text(CONFIG)
    (tmp_path / "manifests").mkdir()
    sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(tmp_path / "manifests"))
    sp.wait_ready()
    return sp


def test_tls12_offers_the_intermediate_profile_only(profile_serve: ServeProcess) -> None:
    address = profile_serve.addresses["websecure"]
    accepted = s_client(address, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert (accepted.protocol, accepted.cipher) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"), accepted.output
    chacha = s_client(address, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305")
    assert chacha.cipher == "ECDHE-RSA-CHACHA20-POLY1305", chacha.output
    # The default (self-signed, ECDSA) certificate, reached without SNI, gets the same profile.
    ecdsa = s_client(address, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", server_name=None)
    assert ecdsa.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384", ecdsa.output
    # CBC with SHA-1 MAC and RSA key exchange, CBC with SHA-256, RSA key exchange with GCM: refused.
    # (@SECLEVEL=0 makes the client offer what Debian's openssl.cnf would keep it from offering.)
    for weak in ("AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES128-SHA256", "AES128-GCM-SHA256"):
        refused = s_client(address, "-tls1_2", "-cipher", f"{weak}:@SECLEVEL=0")
        assert refused.protocol == "", f"{weak} was accepted:\n{refused.output}"
    newest = s_client(address)
    assert newest.protocol == "TLSv1.3", newest.output


def test_tls10_and_tls11_are_refused(profile_serve: ServeProcess) -> None:
    address = profile_serve.addresses["websecure"]
    for version in ("-tls1_1", "-tls1"):
        old = s_client(address, version, "-cipher", "DEFAULT:@SECLEVEL=0")
        assert old.protocol == "", old.output
        # The client did offer the old version (Debian's openssl.cnf alone would have stopped it).
        assert "no protocols available" not in old.output, old.output


def test_min_version_tls13_refuses_tls12_clients(profile_serve: ServeProcess) -> None:
    address = profile_serve.addresses["modern"]
    assert s_client(address, "-tls1_2").protocol == ""
    assert s_client(address, "-tls1_3").protocol == "TLSv1.3"


def test_cipher_suites_are_honoured(profile_serve: ServeProcess) -> None:
    address = profile_serve.addresses["custom"]
    # The default certificate is ECDSA: a list of RSA suites leaves TLS 1.2 nothing to agree on.
    assert s_client(address, "-tls1_2", server_name=None).protocol == ""
    assert (
        s_client(address, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", server_name=None).protocol
        == ""
    )
    # TLS 1.3 keeps its own suites whatever cipherSuites says.
    assert s_client(address, "-tls1_3", server_name=None).protocol == "TLSv1.3"


def test_cipher_suites_apply_to_certificates_chosen_by_sni(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    crt, key = CA().issue([RSA_HOST], key_type="rsa")
    (tmp_path / "rsa.crt").write_bytes(crt)
    (tmp_path / "rsa.key").write_bytes(key)
    (tmp_path / "traefik.toml").write_text(
        '[entryPoints.custom]\naddress = "127.0.0.1:0"\n  [entryPoints.custom.tls]\n'
        '  cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]\n'
        '    [[entryPoints.custom.tls.certificates]]\n    certFile = "rsa.crt"\n    keyFile = "rsa.key"\n'
    )
    (tmp_path / "manifests").mkdir()
    sp = serve("-c", str(tmp_path / "traefik.toml"), "--manifests", str(tmp_path / "manifests"))
    sp.wait_ready()
    address = sp.addresses["custom"]
    listed = s_client(address, "-tls1_2")
    assert (listed.protocol, listed.cipher) == ("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"), listed.output
    # In the default profile, but not listed: refused.
    assert s_client(address, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256").protocol == ""


def test_unknown_cipher_suite_names_are_config_errors_with_the_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    config = tmp_path / "traefik.toml"
    config.write_text(
        '[entryPoints.websecure]\naddress = "127.0.0.1:0"\n  [entryPoints.websecure.tls]\n'
        '  minVersion = "VersionTLS12"\n'
        '  cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265", "TLS_RSA_WITH_RC4_128_SHA"]\n'
    )
    (tmp_path / "manifests").mkdir()
    result = run_cli(["serve", "-c", str(config), "--manifests", str(tmp_path / "manifests")], cli_env)
    assert result.returncode == 2, result.stderr
    assert (
        f"{config}:5: entryPoints.websecure.tls.cipherSuites: unknown cipher suite "
        '"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265" (did you mean "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"?)'
    ) in result.stderr, result.stderr
    assert (
        f'{config}:5: entryPoints.websecure.tls.cipherSuites: "TLS_RSA_WITH_RC4_128_SHA" is refused: '
        "RC4 is broken (RFC 7465)"
    ) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
