"""`routes`/`validate --kubernetes` (and `routes --watch`) as subprocesses against the test API server."""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import Run, assert_no_traceback
from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import endpoint_slice, ingress, secret, service

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


@pytest.fixture
def kubeconfig(kube_api: KubeAPIServer) -> str:
    return str(kube_api.write_kubeconfig(context="test"))


def populate(server: KubeAPIServer) -> None:
    """web/site serves shop.example.com (2 ready endpoints); team/broken names a Service that is not there."""
    server.apply_many(
        [
            service("site", "web"),
            endpoint_slice("site-abc", "site", ["10.1.0.1", "10.1.0.2"], "web"),
            ingress("site", "web", host="shop.example.com", service_name="site", labels={"team": "shop"}),
            ingress("broken", "team", host="broken.example.com", service_name="gone", labels={"team": "b"}),
        ]
    )


def routes_json(run: Run, kubeconfig: str, *args: str) -> dict[str, Any]:
    result = run("routes", "--kubernetes", "--kubeconfig", kubeconfig, "--format", "json", *args)
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# ---------------------------------------------------------------------------------------- one-shot read


def test_routes_reads_the_cluster(run: Run, kube_api: KubeAPIServer, kubeconfig: str) -> None:
    populate(kube_api)
    document = routes_json(run, kubeconfig)
    assert document["schema"] == "ingressctl.routes/v1"
    by_host = {r["host"]: r for r in document["routes"]}
    assert set(by_host) == {"shop.example.com", "broken.example.com"}
    site = by_host["shop.example.com"]
    assert site["status"] == "ok" and site["location"] is None
    assert site["endpoints"]["addresses"] == ["10.1.0.1:8080", "10.1.0.2:8080"]
    assert site["source"] == {"kind": "Ingress", "namespace": "web", "name": "site"}
    # Cluster snapshots hold every Service: the missing one is a real 503, not "not in the input".
    assert by_host["broken.example.com"]["status"] == "service-not-found"

    table = run("routes", "--kubernetes", "--kubeconfig", kubeconfig)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "shop.example.com" in line)
    assert "web/site:80" in row and "2 ready" in row and "web/site" in row
    assert table.stderr.strip() == "1 problem; run ingressctl validate for details"


def test_namespace_and_label_selector_narrow_the_read(
    run: Run, kube_api: KubeAPIServer, kubeconfig: str
) -> None:
    populate(kube_api)
    only_web = routes_json(run, kubeconfig, "--namespace", "web")
    assert [r["host"] for r in only_web["routes"]] == ["shop.example.com"]
    both = routes_json(run, kubeconfig, "-n", "web", "-n", "team")
    assert {r["host"] for r in both["routes"]} == {"shop.example.com", "broken.example.com"}
    selected = routes_json(run, kubeconfig, "--label-selector", "team=b")
    assert [r["host"] for r in selected["routes"]] == ["broken.example.com"]
    # The requests really were scoped (one LIST per namespace, the selector sent to the server).
    paths = [record.path for record in kube_api.request_log()]
    assert any("/namespaces/web/ingresses" in p for p in paths)
    assert any(record.query.get("labelSelector") == "team=b" for record in kube_api.request_log())


def test_context_flag_selects_the_kubeconfig_context(
    run: Run, kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    populate(kube_api)
    # One file, two contexts: the current one has a token the server rejects, "good" has a valid one.
    good = yaml.safe_load(kube_api.write_kubeconfig(context="good").read_text())
    bad = yaml.safe_load(kube_api.write_kubeconfig(context="bad", token="wrong-token").read_text())
    merged = dict(bad)
    for key in ("clusters", "users", "contexts"):
        merged[key] = bad[key] + good[key]
    path = tmp_path / "two-contexts"
    path.write_text(yaml.safe_dump(merged))
    assert run("routes", "--kubernetes", "--kubeconfig", str(path)).returncode == 2
    document = routes_json(run, str(path), "--context", "good")
    assert len(document["routes"]) == 2
    missing = run("routes", "--kubernetes", "--kubeconfig", str(path), "--context", "nope")
    assert missing.returncode == 2 and "nope" in missing.stderr
    assert_no_traceback(missing)


def test_validate_names_cluster_objects_as_locations(
    run: Run, kube_api: KubeAPIServer, kubeconfig: str
) -> None:
    populate(kube_api)
    result = run("validate", "--kubernetes", "--kubeconfig", kubeconfig)
    assert_no_traceback(result)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("Ingress team/broken: error IC203 backend Service team/gone does not exist")
        for line in lines
    ), result.stdout
    assert f"in the cluster at {kube_api.url} (" in lines[-1]
    assert "no manifest files" not in result.stderr

    clean = run("validate", "--kubernetes", "--kubeconfig", kubeconfig, "--namespace", "web")
    assert clean.returncode == 0, clean.stdout
    assert clean.stdout.strip().startswith("0 errors, 0 warnings")


def test_validate_machine_formats_without_files(run: Run, kube_api: KubeAPIServer, kubeconfig: str) -> None:
    populate(kube_api)
    # A TLS Secret that is referenced but absent: real in a cluster, so an error (not "not in the input").
    kube_api.apply(ingress("tls", "web", host="tls.example.com", service_name="site", tls_secret="nope"))
    kube_api.apply(secret("unrelated", "web"))
    base = ("validate", "--kubernetes", "--kubeconfig", kubeconfig)

    sarif = run(*base, "--format", "sarif")
    assert sarif.returncode == 1
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    by_code = {r["ruleId"]: r for r in results}
    assert set(by_code) >= {"IC203", "IC210"}
    (location,) = by_code["IC203"]["locations"]
    assert "physicalLocation" not in location
    assert location["logicalLocations"] == [
        {"name": "broken", "fullyQualifiedName": "Ingress team/broken", "kind": "resource"}
    ]
    assert f"in the cluster at {kube_api.url}" in sarif.stderr

    github = run(*base, "--format", "github")
    annotations = [line for line in github.stdout.splitlines() if line.startswith("::error ")]
    assert annotations and all("file=" not in line for line in annotations)
    assert any("title=IC203::Ingress team/broken: backend Service" in line for line in annotations)

    document = json.loads(run(*base, "--format", "json").stdout)
    assert document["summary"]["source"] == f"the cluster at {kube_api.url}"
    ic210 = next(f for f in document["findings"] if f["code"] == "IC210")
    assert ic210["severity"] == "error" and ic210["file"] is None
    assert ic210["object"] == {"kind": "Ingress", "namespace": "web", "name": "tls"}


# ---------------------------------------------------------------------------------------- usage and failures


@pytest.mark.parametrize("command", ["routes", "validate"])
def test_path_and_kubernetes_do_not_combine(run: Run, command: str, tmp_path: Path) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text("")
    both = run(command, "--kubernetes", str(manifest))
    assert both.returncode == 2
    assert both.stderr.strip().splitlines() == [
        f"error: --kubernetes reads the cluster; do not also give PATH ({manifest}): drop one of them"
    ]
    neither = run(command)
    assert neither.returncode == 2 and "missing PATH" in neither.stderr and "--kubernetes" in neither.stderr
    stray = run(command, str(manifest), "--namespace", "web")
    assert stray.returncode == 2 and "--namespace only apply with --kubernetes" in stray.stderr


def test_watch_needs_kubernetes(run: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text("")
    result = run("routes", str(manifest), "--watch")
    assert result.returncode == 2 and "--watch follows a cluster: add --kubernetes" in result.stderr


def test_unauthorized_is_one_line_naming_the_endpoint(run: Run, kube_api: KubeAPIServer) -> None:
    kubeconfig = str(kube_api.write_kubeconfig(context="bad", token="wrong-token"))
    for command in ("routes", "validate"):
        result = run(command, "--kubernetes", "--kubeconfig", kubeconfig)
        assert_no_traceback(result)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert f"the API server at {kube_api.url} rejected our credentials (401" in line


def test_forbidden_names_verb_and_resource(run: Run, kube_api: KubeAPIServer) -> None:
    kube_api.add_token("viewer", "viewer")
    everything_but_secrets = ["ingresses", "ingressclasses", "services", "endpointslices", "endpoints"]
    kube_api.set_rules([rule("viewer", ["list", "watch", "get"], everything_but_secrets)])
    kubeconfig = str(kube_api.write_kubeconfig(context="viewer", token="viewer"))
    result = run("validate", "--kubernetes", "--kubeconfig", kubeconfig)
    assert_no_traceback(result)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "not allowed to list secrets" in line and "403" in line


def test_unreachable_api_server(run: Run, kube_api: KubeAPIServer) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = yaml.safe_load(kube_api.write_kubeconfig(context="gone").read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path = kube_api.workdir / "gone"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    result = run("routes", "--kubernetes", "--kubeconfig", str(path))
    assert time.monotonic() - started < 30
    assert_no_traceback(result)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"cannot reach the API server at https://127.0.0.1:{port}" in line and "refused" in line


# ---------------------------------------------------------------------------------------- --watch


class Lines:
    """A subprocess's stdout lines, read by a thread so that each read can have a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self.queue.put(line)
            self.queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def next(self, timeout: float = 60.0) -> str:  # a deadline: the first line waits for a cold start
        try:
            line = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s") from None
        assert line is not None, "the process ended"
        return line


def test_watch_prints_one_json_line_per_change(
    kube_api: KubeAPIServer, kubeconfig: str, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    kube_api.apply_many(
        [service("site", "web"), ingress("site", "web", host="a.example.com", service_name="site")]
    )
    proc = subprocess.Popen(
        [
            *ingressctl_cmd,
            "routes",
            "--kubernetes",
            "--kubeconfig",
            kubeconfig,
            "--watch",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        lines = Lines(proc)
        first = json.loads(lines.next())
        assert first["schema"] == "ingressctl.routes/v1"
        assert [r["host"] for r in first["routes"]] == ["a.example.com"]
        assert first["change"]["initial"] is True and first["change"]["added"] == 1

        kube_api.apply(ingress("more", "web", host="b.example.com", service_name="site"))
        second = json.loads(lines.next())
        assert {r["host"] for r in second["routes"]} == {"a.example.com", "b.example.com"}
        change = second["change"]
        assert (change["initial"], change["added"], change["removed"], change["changed"]) == (False, 1, 0, 0)
        assert change["routes"]["added"] == [
            r["id"] for r in second["routes"] if r["host"] == "b.example.com"
        ]

        # A deleted Ingress, then a changed backend (now a Service that does not exist).
        kube_api.delete("Ingress", "web", "more")
        third = json.loads(lines.next())
        assert (third["change"]["added"], third["change"]["removed"]) == (0, 1)
        kube_api.apply(ingress("site", "web", host="a.example.com", service_name="other"))
        fourth = json.loads(lines.next())
        assert (fourth["change"]["changed"], fourth["change"]["errors"]) == (1, 1)
        assert fourth["routes"][0]["status"] == "service-not-found"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    stderr = proc.stderr.read() if proc.stderr is not None else ""
    assert "Traceback" not in stderr, stderr


class Terminal:
    """`ingressctl` running on a pseudo-terminal, and what it has drawn so far."""

    def __init__(self, argv: list[str], env: dict[str, str], lines: int) -> None:
        import pty

        self.leader, follower = pty.openpty()
        env = {**env, "TERM": "xterm", "COLUMNS": "200", "LINES": str(lines)}
        self.proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env)
        os.close(follower)
        self.seen = b""

    def wait_for(self, text: bytes, *, since: int = 0, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen[since:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not shown within {timeout}s; output: {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.leader, 65536)
                except OSError:
                    break

    def close(self) -> bytes:
        """Stop the process if still running; its stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.leader)
        return self.proc.stderr.read() if self.proc.stderr is not None else b""


def test_watch_live_table_on_a_terminal(
    kube_api: KubeAPIServer, kubeconfig: str, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    """On a terminal (a pty here): a live table, redrawn with the last change in the footer."""
    kube_api.apply_many(
        [service("site", "web"), ingress("site", "web", host="a.example.com", service_name="site")]
    )
    argv = [*ingressctl_cmd, "routes", "--kubernetes", "--kubeconfig", kubeconfig, "--watch"]
    term = Terminal(argv, cli_env, lines=40)
    try:
        term.wait_for(b"a.example.com")
        term.wait_for(b"last change: +1 -0 ~0 at ")
        kube_api.apply(ingress("more", "web", host="b.example.com", service_name="site"))
        term.wait_for(b"b.example.com")
        kube_api.delete("Ingress", "web", "site")
        term.wait_for(b"last change: +0 -1 ~0 at ")
        term.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert term.proc.wait(timeout=15) == 0
    finally:
        stderr = term.close()
    assert b"Traceback" not in stderr, stderr


def test_watch_keeps_the_changed_route_on_a_short_terminal(
    kube_api: KubeAPIServer, kubeconfig: str, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    """More routes than lines: the route the last change added is drawn, the rest summarised."""
    kube_api.apply(service("site", "web"))
    kube_api.apply_many(
        [ingress(f"i{n:02}", "web", host=f"h{n:02}.example.com", service_name="site") for n in range(30)]
    )
    argv = [*ingressctl_cmd, "routes", "--kubernetes", "--kubeconfig", kubeconfig, "--watch"]
    term = Terminal(argv, cli_env, lines=24)
    try:
        term.wait_for(b"last change: +30 -0 ~0 at ")
        assert b"h00.example.com" in term.seen and b"h29.example.com" not in term.seen
        term.wait_for(b"more routes")
        mark = len(term.seen)
        kube_api.apply(ingress("z", "web", host="zz-new.example.com", service_name="site"))
        term.wait_for(b"last change: +1 -0 ~0 at ", since=mark)
        assert b"zz-new.example.com" in term.seen[mark:]
        term.proc.send_signal(signal.SIGTERM)
        assert term.proc.wait(timeout=15) == 0
    finally:
        stderr = term.close()
    assert b"Traceback" not in stderr, stderr


def test_watch_ends_quietly_when_the_reader_goes_away(
    kube_api: KubeAPIServer, kubeconfig: str, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    """`routes --watch -f json | head -1`: the next change finds no reader; exit 0, no traceback."""
    kube_api.apply_many(
        [service("site", "web"), ingress("site", "web", host="a.example.com", service_name="site")]
    )
    proc = subprocess.Popen(
        [*ingressctl_cmd, "routes", "--kubernetes", "--kubeconfig", kubeconfig, "--watch", "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(proc.stdout.readline())["change"]["initial"] is True
        proc.stdout.close()
        kube_api.apply(ingress("more", "web", host="b.example.com", service_name="site"))
        assert proc.wait(timeout=15) == 0
        assert proc.stderr.read() == b"kubernetes: listing from " + kube_api.url.encode() + b"\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_watch_with_an_unusable_kubeconfig_exits_2(run: Run, tmp_path: Path) -> None:
    result = run("routes", "--kubernetes", "--kubeconfig", str(tmp_path / "missing"), "--watch", "-f", "json")
    assert_no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: kubeconfig '{tmp_path / 'missing'}': no such file"]


def test_watch_reports_a_refusing_api_server_and_keeps_trying(
    kube_api: KubeAPIServer, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    kube_api.apply_many(
        [service("site", "web"), ingress("site", "web", host="a.example.com", service_name="site")]
    )
    kubeconfig = str(kube_api.write_kubeconfig(context="late", token="late-token"))
    proc = subprocess.Popen(
        [*ingressctl_cmd, "routes", "--kubernetes", "--kubeconfig", kubeconfig, "--watch", "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline() == f"kubernetes: listing from {kube_api.url}\n"
        line = proc.stderr.readline()  # bounded by the module timeout
        assert line.startswith(f"kubernetes: the API server at {kube_api.url} rejected our credentials (401")
        kube_api.add_token("late-token", "admin-later")  # the token becomes valid: the watch recovers
        first = json.loads(Lines(proc).next(timeout=30))
        assert [r["host"] for r in first["routes"]] == ["a.example.com"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
