"""The real `ingressctl certs …` and `ingressctl acme …` in subprocesses, against Pebble."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from tests.acme.conftest import verify_issued
from tests.acme.samples import make_chain, v1_file, v2_resolver, v17_file, write
from tests.pebble import Pebble, free_port

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200", TERM="dumb")
    return subprocess.run(
        [sys.executable, "-m", "ingressctl", *args], capture_output=True, text=True, env=env, cwd=REPO,
        timeout=timeout,
    )  # fmt: skip


def ca_args(pebble: Pebble, challenge: str = "http-01") -> list[str]:
    port = pebble.http_port if challenge == "http-01" else pebble.tls_port
    return [
        "--ca-server", pebble.directory_url, "--ca-bundle", str(pebble.api_ca),
        "--challenge", challenge, "--listen", f"127.0.0.1:{port}", "--email", "ops@example.test",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def issued(pebble: Pebble, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PEM files from one `certs request --out-dir` run (HTTP-01, two names)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    proc = run(
        "certs", "request", "web.example.test", "www.example.test", *ca_args(pebble), "--out-dir", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_request_out_dir_writes_pem_files(pebble: Pebble, issued: Path) -> None:
    names = {p.name: stat.S_IMODE(p.stat().st_mode) for p in issued.iterdir()}
    assert names == {"cert.pem": 0o644, "chain.pem": 0o644, "fullchain.pem": 0o644, "privkey.pem": 0o600}
    fullchain = (issued / "fullchain.pem").read_bytes()
    assert fullchain == (issued / "cert.pem").read_bytes() + (issued / "chain.pem").read_bytes()
    verify_issued(pebble, fullchain, "www.example.test")


def test_request_tls_alpn_into_storage_then_reuse_the_account(pebble: Pebble, tmp_path: Path) -> None:
    storage = tmp_path / "acme.json"
    first = run(
        "certs", "request", "alpn.example.test", *ca_args(pebble, "tls-alpn-01"), "--storage", str(storage)
    )
    assert first.returncode == 0, first.stderr
    assert "new account" in first.stderr and "answering tls-alpn-01" in first.stderr
    assert stat.S_IMODE(storage.stat().st_mode) == 0o600
    rsa = ["--key-type", "rsa2048"]
    second = run("certs", "request", "again.example.test", *ca_args(pebble), "--storage", str(storage), *rsa)
    assert second.returncode == 0, second.stderr
    assert "using the stored ACME account" in second.stderr and "reused account" in second.stderr
    doc = json.loads(storage.read_text())
    mains = [c["domain"]["main"] for c in doc["default"]["Certificates"]]
    assert mains == ["alpn.example.test", "again.example.test"]
    shown = json.loads(run("certs", "inspect", f"{storage}#again.example.test", "--format", "json").stdout)
    assert shown["certificates"][0]["key"] == {"type": "RSA", "size": 2048}


def test_request_with_storage_passes_the_rate_limit_guard(pebble: Pebble, tmp_path: Path) -> None:
    """After a failure the ledger next to the storage backs off: the next run does not even ask the CA."""
    storage = tmp_path / "acme.json"
    args = ca_args(pebble)
    args[args.index("--listen") + 1] = f"127.0.0.1:{free_port()}"  # validation will fail
    failed = run("certs", "request", "flaky.guarded.test", *args, "--storage", str(storage))
    assert failed.returncode == 1 and "could not connect" in failed.stderr
    blocked = run("certs", "request", "flaky.guarded.test", *ca_args(pebble), "--storage", str(storage))
    assert blocked.returncode == 1
    assert "rate-limit guard: flaky.guarded.test: 1 failed attempt(s) in a row" in blocked.stderr
    assert "registering" not in blocked.stderr


@pytest.mark.parametrize(
    ("name", "listen_elsewhere", "expected"),
    [
        ("blocked.example.test", False, "will not issue for blocked.example.test"),
        ("unreachable.example.test", True, "could not connect to unreachable.example.test"),
    ],
)
def test_request_failures_exit_1_with_advice(
    pebble: Pebble, tmp_path: Path, name: str, listen_elsewhere: bool, expected: str
) -> None:
    args = ca_args(pebble)
    if listen_elsewhere:  # the responder is not where the CA connects: as with a wrong port forward
        args[args.index("--listen") + 1] = f"127.0.0.1:{free_port()}"
    proc = run("certs", "request", name, *args, "--out-dir", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_request_refuses_a_0644_storage_before_ordering(pebble: Pebble, tmp_path: Path) -> None:
    storage = write(tmp_path / "acme.json", {}, mode=0o644)
    proc = run("certs", "request", "x.example.test", *ca_args(pebble), "--storage", str(storage))
    assert proc.returncode == 2 and "chmod 600" in proc.stderr
    assert storage.read_text() == "{}"


def test_request_refuses_a_storage_it_does_not_fully_understand(pebble: Pebble, tmp_path: Path) -> None:
    # The same rule as serve: a key it does not know would be lost by the rewrite, so nothing is written.
    storage = write(
        tmp_path / "acme.json", {"default": {"Account": None, "Certificates": [], "Profile": "x"}}
    )
    before = storage.read_bytes()
    ledger_before = sorted(p.name for p in tmp_path.iterdir())
    proc = run("certs", "request", "x.example.test", *ca_args(pebble), "--storage", str(storage))
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if str(storage) in line]
    assert len(errors) == 1 and "unknown key 'Profile'" in errors[0] and "will not overwrite" in errors[0]
    assert storage.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ledger_before


def test_request_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run("certs", "request", "x.example.test", "--key-type", "dsa", "--out-dir", str(tmp_path))
    assert proc.returncode == 2 and "--key-type" in proc.stderr
    proc = run("certs", "request", "x.example.test", "--ca-server", "nonsense", "--out-dir", str(tmp_path))
    assert proc.returncode == 2 and "letsencrypt-staging" in proc.stderr


def test_inspect_file_verifies_against_the_given_root(pebble: Pebble, issued: Path) -> None:
    proc = run(
        "certs",
        "inspect",
        str(issued / "fullchain.pem"),
        "--ca-bundle",
        str(pebble.root_file()),
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    (cert,) = json.loads(proc.stdout)["certificates"]
    assert cert["sans"] == ["web.example.test", "www.example.test"]
    assert (
        cert["verified"] is True
        and cert["ca"] == "pebble"
        and cert["key"] == {"type": "EC secp256r1", "size": 256}
    )
    assert 1820 < cert["days_left"] < 1830
    assert len(cert["chain"]) == 2
    untrusted = run("certs", "inspect", str(issued / "cert.pem"), "--format", "json")  # system store
    assert json.loads(untrusted.stdout)["certificates"][0]["verified"] is False


def test_inspect_warn_days_exits_1(pebble: Pebble, issued: Path) -> None:
    ok = run("certs", "inspect", str(issued / "cert.pem"), "--warn-days", "30")
    assert ok.returncode == 0 and "web.example.test" in ok.stdout
    soon = run("certs", "inspect", str(issued / "cert.pem"), "--warn-days", "2000")
    assert soon.returncode == 1 and "expires in" in soon.stderr


def test_inspect_acme_json_domain_and_all(tmp_path: Path) -> None:
    a, b = make_chain(["a.example.test"], days=5), make_chain(["b.example.test", "c.example.test"], days=60)
    path = write(
        tmp_path / "acme.json",
        {"le": v2_resolver([("a.example.test", [], *a), ("b.example.test", ["c.example.test"], *b)])},
    )
    one = run("certs", "inspect", f"{path}#c.example.test", "--format", "json")
    assert one.returncode == 0, one.stderr
    assert [c["subject"] for c in json.loads(one.stdout)["certificates"]] == ["CN=b.example.test"]
    every = run("certs", "inspect", str(path), "--format", "json", "--warn-days", "10")
    assert every.returncode == 1
    assert len(json.loads(every.stdout)["certificates"]) == 2
    missing = run("certs", "inspect", f"{path}#nope.example.test")
    assert missing.returncode == 2 and "no certificate for 'nope.example.test'" in missing.stderr


@pytest.fixture
def tls_server(issued: Path) -> Iterator[int]:
    """A real TLS server on loopback presenting the issued certificate (one handshake per connection)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(issued / "fullchain.pem"), str(issued / "privkey.pem"))
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"hi\n")
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    sock.close()


def test_inspect_live_host_port(pebble: Pebble, tls_server: int) -> None:
    proc = run(
        "certs", "inspect", f"127.0.0.1:{tls_server}", "--servername", "www.example.test",
        "--ca-bundle", str(pebble.root_file()), "--format", "json", "--timeout", "5",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (cert,) = json.loads(proc.stdout)["certificates"]
    assert cert["verified"] is True and cert["verified_for"] == "www.example.test"
    assert cert["chain"][0]["subject"] == "web.example.test"
    wrong = run("certs", "inspect", f"127.0.0.1:{tls_server}", "--servername", "other.example.test",
                "--ca-bundle", str(pebble.root_file()), "--format", "json")  # fmt: skip
    assert json.loads(wrong.stdout)["certificates"][0]["verified"] is False
    closed = run("certs", "inspect", "127.0.0.1:1", "--timeout", "2")
    assert closed.returncode == 2 and "TLS connection failed" in closed.stderr


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("layouts")
    good = make_chain(["a.example.test"], days=60)
    expiring = make_chain(
        ["b.example.test", "c.example.test"], days=3, issuer="(STAGING) Counterfeit Cashew R10"
    )
    entries = [("a.example.test", [], *good), ("b.example.test", ["c.example.test"], *expiring)]
    return {
        "traefik-v1": write(d / "v1.json", v1_file(entries)),
        "traefik-v1.7": write(d / "v17.json", v17_file(entries)),
        "traefik-v2": write(d / "v2.json", {"myresolver": v2_resolver(entries, key_type=True)}),
    }


@pytest.mark.parametrize("layout", ["traefik-v1", "traefik-v1.7", "traefik-v2"])
def test_acme_inspect_every_layout(layouts: dict[str, Path], layout: str) -> None:
    proc = run("acme", "inspect", str(layouts[layout]), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["layout"] == layout and doc["mode"] == "600"
    (acct,) = doc["accounts"]
    assert acct["email"] == "ops@example.test" and acct["registration_uri"].endswith("/my-account/1")
    assert acct["ca"] == "https://127.0.0.1:14000"
    certs = {c["main"]: c for c in doc["certificates"]}
    assert (
        certs["b.example.test"]["sans"] == ["c.example.test"] and certs["b.example.test"]["staging"] is True
    )
    assert certs["a.example.test"]["staging"] is False and certs["a.example.test"]["key_matches"] is True
    assert 2 < certs["b.example.test"]["days_left"] < 3.1
    assert any("b.example.test: expires in" in w for w in doc["warnings"])
    assert any("test CA (staging)" in w for w in doc["warnings"])


def test_acme_inspect_warns_about_mode_duplicates_and_mismatched_keys(tmp_path: Path) -> None:
    a, b = make_chain(["a.example.test"]), make_chain(["b.example.test"])
    entries = [("a.example.test", [], a[0], b[1]), ("b.example.test", [], *b), ("b.example.test", [], *b)]
    path = write(tmp_path / "acme.json", {"default": v2_resolver(entries)}, mode=0o644)
    proc = run("acme", "inspect", str(path))
    assert proc.returncode == 0
    assert "looser than 600" in proc.stderr
    assert "a.example.test: the private key does not match" in proc.stderr
    assert "b.example.test: duplicate certificate" in proc.stderr
    assert "a.example.test" in proc.stdout and "b.example.test" in proc.stdout


def test_acme_export_writes_pem_files(layouts: dict[str, Path], tmp_path: Path) -> None:
    proc = run(
        "acme",
        "export",
        str(layouts["traefik-v1"]),
        "--domain",
        "c.example.test",
        "--out",
        str(tmp_path / "x"),
    )
    assert proc.returncode == 0, proc.stderr
    leaf = x509.load_pem_x509_certificate((tmp_path / "x" / "cert.pem").read_bytes())
    assert "b.example.test" in leaf.subject.rfc4514_string()
    assert stat.S_IMODE((tmp_path / "x" / "privkey.pem").stat().st_mode) == 0o600
    missing = run(
        "acme", "export", str(layouts["traefik-v2"]), "--domain", "zzz.test", "--out", str(tmp_path / "y")
    )
    assert missing.returncode == 2 and "no certificate for 'zzz.test'" in missing.stderr


def test_acme_check_exit_codes(layouts: dict[str, Path]) -> None:
    ok = run("acme", "check", str(layouts["traefik-v1.7"]), "--fail-under", "2")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failing = run("acme", "check", str(layouts["traefik-v1.7"]), "--fail-under", "14")
    assert failing.returncode == 1
    assert (
        "FAIL\tdefault\tb.example.test" in failing.stdout and "ok\tdefault\ta.example.test" in failing.stdout
    )


@pytest.mark.parametrize("command", [["acme", "inspect"], ["acme", "check"], ["certs", "inspect"]])
def test_corrupt_file_exit_2_and_untouched(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "acme.json"
    path.write_text('{"default": {"Account": {"Email": "ops@exam')
    os.chmod(path, 0o600)
    before = path.read_bytes()
    proc = run(*command, str(path))
    assert proc.returncode == 2
    assert "corrupt or truncated" in proc.stderr and "Traceback" not in proc.stderr
    assert path.read_bytes() == before


def test_revoke_with_the_certificate_key(pebble: Pebble, tmp_path: Path) -> None:
    out = tmp_path / "rev"
    assert (
        run("certs", "request", "gone.example.test", *ca_args(pebble), "--out-dir", str(out)).returncode == 0
    )
    ca = ["--ca-server", pebble.directory_url, "--ca-bundle", str(pebble.api_ca)]
    proc = run(
        "certs",
        "revoke",
        str(out / "cert.pem"),
        "--key",
        str(out / "privkey.pem"),
        "--reason",
        "keyCompromise",
        *ca,
    )
    assert proc.returncode == 0, proc.stderr
    serial = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes()).serial_number
    assert pebble.cert_status(serial) == "Revoked"
    again = run("certs", "revoke", str(out / "cert.pem"), "--key", str(out / "privkey.pem"), *ca)
    assert again.returncode == 1 and "already revoked" in again.stderr


def test_revoke_from_storage_with_the_account(pebble: Pebble, tmp_path: Path) -> None:
    storage = tmp_path / "acme.json"
    assert (
        run("certs", "request", "stored.example.test", *ca_args(pebble), "--storage", str(storage)).returncode
        == 0
    )
    ca = ["--ca-server", pebble.directory_url, "--ca-bundle", str(pebble.api_ca)]
    proc = run("certs", "revoke", "--storage", str(storage), "--domain", "stored.example.test", *ca)
    assert proc.returncode == 0, proc.stderr
    cert = json.loads(storage.read_text())["default"]["Certificates"][0]["certificate"]
    import base64

    serial = x509.load_pem_x509_certificate(base64.b64decode(cert)).serial_number
    assert pebble.cert_status(serial) == "Revoked"


def test_request_and_revoke_format_json(pebble: Pebble, tmp_path: Path) -> None:
    """Data on stdout as one JSON document (schema 1), the progress messages on stderr."""
    out = tmp_path / "json"
    requested = run(
        "certs", "request", "json.example.test", "alt.example.test", *ca_args(pebble),
        "--out-dir", str(out), "--format", "json",
    )  # fmt: skip
    assert requested.returncode == 0, requested.stderr
    doc = json.loads(requested.stdout)
    cert = x509.load_pem_x509_certificate((out / "cert.pem").read_bytes())
    assert doc["schema"] == 1 and doc["domains"] == ["json.example.test", "alt.example.test"]
    assert doc["serial"] == f"{cert.serial_number:x}"
    assert doc["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["account"]["uri"].startswith("https://") and doc["account"]["reused"] is False
    assert sorted(Path(p).name for p in doc["written"]) == [
        "cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"
    ]  # fmt: skip
    assert doc["seconds"] > 0 and "obtained" in requested.stderr

    ca = ["--ca-server", pebble.directory_url, "--ca-bundle", str(pebble.api_ca)]
    revoked = run(
        "certs", "revoke", str(out / "fullchain.pem"), "--key", str(out / "privkey.pem"),
        "--reason", "superseded", "--format", "json", *ca,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout) == {
        "schema": 1,
        "revoked": True,
        "serial": doc["serial"],
        "not_after": doc["not_after"],
        "reason": "superseded",
        "reason_code": 4,
        "ca_server": pebble.directory_url,
    }
    assert pebble.cert_status(cert.serial_number) == "Revoked"
    assert "revoked" in revoked.stderr

    bad = run("certs", "revoke", str(out / "cert.pem"), "--format", "yaml", *ca)
    assert bad.returncode == 2 and "--format 'yaml'" in bad.stderr and bad.stdout == ""
