"""The built image, as a cluster runs it: its configuration, and `serve` inside it.

`buildah run --isolation chroot` shares the host's network, so a `serve` inside answers on
127.0.0.1. `podman run` cannot work here (crun cannot set rlimits), so the pod's runtime
conditions (PID 1 of its own PID namespace, readOnlyRootFilesystem with an emptyDir on /tmp,
runAsUser from the image) are reproduced with unshare, mounts and chroot over `buildah mount`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.manifests import write_apps

pytestmark = pytest.mark.timeout(300)

IMAGE = os.environ.get("INGRESSCTL_IMAGE", "")
ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
GRACE = 5.0


def buildah(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"buildah {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def image_config() -> dict[str, Any]:
    """The OCI image configuration (Entrypoint, Cmd, User, Env, Labels, WorkingDir)."""
    inspected = json.loads(buildah("inspect", "--type", "image", IMAGE))
    config: dict[str, Any] = inspected["OCIv1"]["config"]
    return config


@pytest.fixture
def container() -> Iterator[str]:
    ctr = buildah("from", "--pull-never", IMAGE).strip()
    try:
        yield ctr
    finally:
        subprocess.run(["buildah", "umount", ctr], capture_output=True, timeout=60)
        subprocess.run(["buildah", "rm", ctr], capture_output=True, timeout=60)


def run_in(ctr: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["buildah", "run", "--isolation", "chroot", ctr, "--", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the image's configuration ----------------------------------------------------------------


def test_entrypoint_is_ingressctl_and_the_default_command_serves(image_config: dict[str, Any]) -> None:
    assert image_config["Entrypoint"] == ["ingressctl"]
    assert image_config["Cmd"][0] == "serve"


def test_runs_as_numeric_non_root_user(image_config: dict[str, Any]) -> None:
    # Numeric, so Kubernetes' runAsNonRoot can verify it without looking up a name.
    assert image_config["User"] in ("65532", "65532:65532")


def test_oci_labels_name_source_version_and_license(image_config: dict[str, Any]) -> None:
    labels = image_config["Labels"]
    assert labels["org.opencontainers.image.version"] == PROJECT["version"]
    assert labels["org.opencontainers.image.licenses"] == PROJECT["license"]
    assert labels["org.opencontainers.image.source"] == PROJECT["urls"]["Source"]


def test_version_inside(container: str) -> None:
    done = run_in(container, "ingressctl", "--version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].strip() == f"ingressctl {PROJECT['version']}", done.stdout
    # The image's event loop is uvloop (a default dependency on Linux).
    assert any(line.startswith("event loop") and "uvloop" in line for line in lines), done.stdout
    assert "Traceback" not in done.stderr


def test_user_and_dependencies_inside(container: str) -> None:
    done = run_in(container, "id", "-u")
    assert (done.returncode, done.stdout.strip()) == (0, "65532"), done.stderr
    # uvloop is a default dependency on Linux: serve uses it in the image.
    done = run_in(container, "python3", "-c", "import ingressctl.server.run as r; print(r.install_uvloop())")
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr


def test_final_stage_has_no_compiler_and_no_pip_in_the_venv(container: str) -> None:
    done = run_in(
        container, "sh", "-c", "for c in cc gcc c++ make; do command -v $c; done; ls /opt/ingressctl/bin"
    )
    assert done.returncode == 0, done.stderr
    found = done.stdout.split()
    assert not [p for p in found if p.rsplit("/", 1)[-1] in ("cc", "gcc", "c++", "make")], found
    assert "ingressctl" in found
    assert "pip" not in found


# --- serve inside the image -------------------------------------------------------------------


@dataclass
class SlowBackend:
    """A real HTTP backend on loopback: /sleep?s=N answers after N seconds."""

    server: ThreadingHTTPServer
    started: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def backend() -> Iterator[SlowBackend]:
    holder: list[SlowBackend] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seconds = float(self.path.partition("s=")[2] or 0)
            holder[0].started.set()
            time.sleep(seconds)
            body = f"slept {seconds:g} for {self.headers.get('Host')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(SlowBackend(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()


@dataclass
class Serve:
    """`ingressctl serve` started through some wrapper (buildah run, unshare): its output, and the
    serve process itself (a descendant of the wrapper) to signal."""

    proc: subprocess.Popen[str]
    web: int
    websecure: int
    api: int
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(re.search(pattern, line) for line in self.lines):
            assert self.proc.poll() is None, (
                f"exited ({self.proc.returncode}) before {pattern!r}:\n{self.text}"
            )
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout}s:\n{self.text}"
            time.sleep(0.05)

    def serve_pids(self) -> list[int]:
        """The processes running ingressctl among the wrapper's descendants (a wrapper of buildah's
        may name ingressctl in its own command line: the innermost one serves)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    children.setdefault(int(stat.rpartition(")")[2].split()[1]), []).append(int(entry.name))
        todo, found = [self.proc.pid], []
        while todo:
            pid = todo.pop()
            with contextlib.suppress(OSError, IndexError):
                argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
                if argv[0].rsplit(b"/", 1)[-1].startswith(b"python") and argv[1].endswith(b"/ingressctl"):
                    found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def serve_pid(self) -> int:
        found = self.serve_pids()
        assert len(found) == 1, f"ingressctl processes under {self.proc.pid}: {found}\n{self.text}"
        return found[0]

    def stop(self) -> None:
        """Kill whatever is left: the server first (buildah's chroot helper outlives a killed buildah)."""
        if self.proc.poll() is None:
            for pid in self.serve_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def serve_inputs(tmp_path: Path, backend: SlowBackend) -> tuple[Path, list[str], tuple[int, int, int]]:
    """A config with an HTTP and a TLS entrypoint (its certificate generated at start) and the API on
    loopback, and a manifest routing app.test to the backend: (directory, serve args, ports)."""
    web, websecure, api = free_port(), free_port(), free_port()
    (tmp_path / "traefik.toml").write_text(
        f'graceTimeOut = "{GRACE:g}s"\n'
        "[entryPoints]\n"
        f'  [entryPoints.web]\n  address = "127.0.0.1:{web}"\n'
        f'  [entryPoints.websecure]\n  address = "127.0.0.1:{websecure}"\n'
        "    [entryPoints.websecure.tls]\n"
        f'[web]\naddress = "127.0.0.1:{api}"\n'
    )
    write_apps(tmp_path / "apps.yaml", [("app", "app.test", "/", backend.port)])
    tmp_path.chmod(0o755)
    for path in tmp_path.iterdir():
        path.chmod(0o644)
    args = ["serve", "--config", "/srv/traefik.toml", "--manifests", "/srv/apps.yaml"]
    return tmp_path, args, (web, websecure, api)


def get(port: int, path: str, host: str = "app.test", tls: bool = False) -> tuple[int, str]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=60, context=context
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_answering(serve: Serve, port: int, path: str) -> tuple[int, str]:
    deadline = time.monotonic() + 120
    while True:
        assert serve.proc.poll() is None, f"serve exited ({serve.proc.returncode}):\n{serve.text}"
        try:
            return get(port, path, host="127.0.0.1")
        except OSError:
            assert time.monotonic() < deadline, f"nothing answers on {port}:\n{serve.text}"
            time.sleep(0.1)


def check_serving_and_drain(serve: Serve, backend: SlowBackend) -> None:
    """/ping answers, both entrypoints route to the backend, and SIGTERM with a request in flight:
    the request completes, then the process exits 0."""
    assert wait_answering(serve, serve.api, "/ping") == (200, "OK")
    serve.wait_for("configuration applied")
    assert get(serve.api, "/ready")[0] == 200
    assert get(serve.web, "/?s=0") == (200, "slept 0 for app.test")
    assert get(serve.websecure, "/?s=0", tls=True) == (200, "slept 0 for app.test")

    backend.started.clear()
    in_flight: list[tuple[int, str]] = []
    client = threading.Thread(target=lambda: in_flight.append(get(serve.web, "/?s=1.5")))
    client.start()
    assert backend.started.wait(60), serve.text
    os.kill(serve.serve_pid(), signal.SIGTERM)
    code = serve.proc.wait(GRACE + 60)
    client.join(60)
    assert in_flight == [(200, "slept 1.5 for app.test")], serve.text
    assert code == 0, serve.text
    assert "stopped" in serve.text
    assert "Traceback" not in serve.text


def start(command: Sequence[str], ports: tuple[int, int, int]) -> Serve:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Serve(proc, *ports)


def test_serve_in_buildah_run_answers_ping_and_drains_on_sigterm(
    container: str, backend: SlowBackend, serve_inputs: tuple[Path, list[str], tuple[int, int, int]]
) -> None:
    directory, args, ports = serve_inputs
    command = ["buildah", "run", "--isolation", "chroot", "-v", f"{directory}:/srv:ro", container, "--"]
    serve = start([*command, "ingressctl", *args], ports)
    try:
        check_serving_and_drain(serve, backend)
    finally:
        serve.stop()


# The pod: a private mount and PID namespace; the image's root bind-mounted read-only, a tmpfs on
# /tmp (the emptyDir), /proc and /dev; the inputs read-only on /srv; then the image's entrypoint
# as the image's user, with only the image's environment, as PID 1. Checks first that the root
# really is read-only, even for root.
_POD = """
set -eu
root=$1; inputs=$2; user=$3; shift 3
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind -o ro "$inputs" "$root/srv"
if chroot "$root" /bin/sh -c ': > /etc/ingressctl-probe' 2>/dev/null; then
  echo "the emulated root is writable" >&2; exit 97
fi
exec chroot --userspec="$user" "$root" "$@"
"""


def test_serve_as_pid_1_with_a_read_only_root(
    container: str,
    image_config: dict[str, Any],
    backend: SlowBackend,
    serve_inputs: tuple[Path, list[str], tuple[int, int, int]],
) -> None:
    directory, args, ports = serve_inputs
    root = buildah("mount", container).strip()
    user = image_config["User"]
    user = user if ":" in user else f"{user}:{user}"
    workdir = image_config.get("WorkingDir") or "/"
    env = ["/usr/bin/env", "-i", *image_config["Env"], "/bin/sh", "-c", 'cd "$0" && exec "$@"', workdir]
    entry = [*image_config["Entrypoint"], *args]
    command = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", _POD, "pod"]
    serve = start([*command, root, str(directory), user, *env, *entry], ports)
    try:
        assert wait_answering(serve, serve.api, "/ping") == (200, "OK")
        status = (Path("/proc") / str(serve.serve_pid()) / "status").read_text()
        assert re.search(r"^NSpid:\s+\d+\s+1$", status, re.M), status  # PID 1 in its namespace
        assert re.search(r"^Uid:\s+65532\s+65532\s+65532\s+65532$", status, re.M), status
        check_serving_and_drain(serve, backend)
    finally:
        serve.stop()
