"""`serve` loads only what its configuration uses: every library imported stays resident for the
life of the pod (cryptography's native library alone is ~9 MB, the RE2 binding ~2 MB), and the
proxy's peak memory is one of its figures against Traefik (README, performance).

A real `ingressctl serve` in manifests mode, with a plain and a TLS entrypoint (served by the
generated default certificate) and the API, answers requests; a probe thread inside the same process
reports which top-level modules are loaded by then. No wall-clock limits: it polls until a deadline.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve.conftest import ServeProcess
from tests.support.manifests import write_apps

pytestmark = pytest.mark.timeout(90)

# Libraries a proxy with only plain routes and the default certificate has no use for.
NOT_FOR_PLAIN_SERVE = (
    "typer",
    "click",
    "rich",
    "kubernetes",
    "acme",
    "josepy",
    "cryptography",  # certificate parsing: Secrets, certificate files, client certificates
    "bcrypt",
    "re2",  # user-written regular expressions
    "h2",  # the first HTTP/2 connection (client or backend) imports it
    "hpack",
    "yaml",
)

# Writes the loaded top-level modules to a file every 50 ms (replaced atomically), then runs serve.
PROBE = """
import json, os, sys, threading, time
out = sys.argv.pop(1)
def report():
    while True:
        names = sorted({m.split(".")[0] for m in list(sys.modules)})
        with open(out + ".tmp", "w") as f:
            json.dump({"at": time.time(), "modules": names}, f)
        os.replace(out + ".tmp", out)
        time.sleep(0.05)
threading.Thread(target=report, daemon=True).start()
sys.argv = ["ingressctl", "serve", *sys.argv[1:]]
from ingressctl.cli.entry import main
main()
"""


def _modules_after(report: Path, moment: float, sp: ServeProcess) -> set[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert sp.proc.poll() is None, sp.text
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            data = {"at": 0}
        if data["at"] > moment:
            return set(data["modules"])
        time.sleep(0.05)
    raise AssertionError("the probe wrote no module list")


def _served_certificate(address: str) -> bytes:
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="app.test") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        head = tls.recv(64)
        assert head.startswith(b"HTTP/1.1 "), head
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_plain_serve_with_the_default_certificate_loads_no_heavy_library(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    backend = socket.socket()
    backend.bind(("127.0.0.1", 0))  # nothing answers there: a 502 is an answer all the same
    write_apps(manifests / "app.yaml", [("app", "app.test", "/", backend.getsockname()[1])])
    report = tmp_path / "modules.json"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-c", PROBE, str(report), "--manifests", str(manifests)),
            *("--entrypoint", "web=127.0.0.1:0", "--entrypoint", "websecure=127.0.0.1:0,tls"),
            *("--api-address", "127.0.0.1:0", "--api-insecure"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
        cwd=tmp_path,
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    try:
        sp.wait_ready()
        with socket.create_connection(sp.addresses["web"].rsplit(":", 1), timeout=10) as plain:
            plain.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
            assert plain.recv(64).startswith(b"HTTP/1.1 502"), sp.text
        der = _served_certificate(sp.addresses["websecure"])
        # The generated default certificate is served (made in a child process: tls/default_cert.py).
        assert b"ingressctl default certificate" in der
        loaded = _modules_after(report, time.time(), sp)
        assert not loaded & set(NOT_FOR_PLAIN_SERVE), sorted(loaded & set(NOT_FOR_PLAIN_SERVE))
        assert "aiohttp" in loaded  # the probe sees serve's modules, not an empty process
    finally:
        sp.stop()
        backend.close()
