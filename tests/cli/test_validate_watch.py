"""`validate --watch PATH...`: the report, then what appeared and what was fixed on every change."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

GOOD_HOST = "shop.example.com"
BAD_HOST = "Shop.Example.com"
MANIFEST = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: shop}}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: shop, port: {{number: 80}}}}}}}}
"""
DEADLINE_SECONDS = 30


class _Lines:
    """The process's stdout lines, read in a thread, so that a test waits with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.queue.put(line) for line in stream], daemon=True).start()

    def until(self, predicate: object) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line.rstrip("\n"))
            if callable(predicate) and predicate(seen[-1]):
                return seen
        raise AssertionError(f"no expected line within {DEADLINE_SECONDS} s; got {seen}")


def _start(args: list[str], ingressctl_cmd: list[str], cli_env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ingressctl_cmd, "validate", "--watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )


def _touch(path: Path, text: str) -> None:
    # Same size, same second: make the change visible to a poller that compares mtime and size.
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_watch_shows_what_appeared_and_what_was_fixed(
    tmp_path: Path, ingressctl_cmd: list[str], cli_env: dict[str, str]
) -> None:
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(MANIFEST.format(host=GOOD_HOST), encoding="utf-8")
    process = _start([str(tmp_path)], ingressctl_cmd, cli_env)
    try:
        lines = _Lines(process)
        first = lines.until(lambda line: line.startswith("0 errors"))
        assert any("IC204" in line for line in first)
        _touch(manifest, MANIFEST.format(host=BAD_HOST))
        broken = lines.until(lambda line: line.startswith("+ "))
        assert "1 appeared, 0 fixed: 1 error" in broken[-2]
        assert "error IC114" in broken[-1] and "'Shop.Example.com'" in broken[-1]
        _touch(manifest, MANIFEST.format(host=GOOD_HOST))
        fixed = lines.until(lambda line: line.startswith("- "))
        assert "0 appeared, 1 fixed: 0 errors" in fixed[-2]
        assert "error IC114" in fixed[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_SECONDS) == 0
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")


def test_watch_json_lines(tmp_path: Path, ingressctl_cmd: list[str], cli_env: dict[str, str]) -> None:
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(MANIFEST.format(host=BAD_HOST), encoding="utf-8")
    process = _start([str(manifest), "--format", "json"], ingressctl_cmd, cli_env)
    try:
        lines = _Lines(process)
        first = json.loads(lines.until(lambda line: line.startswith("{"))[-1])
        assert first["schema"] == "ingressctl.validate-watch/v1" and first["initial"] is True
        assert {f["code"] for f in first["appeared"]} == {"IC114", "IC204"}
        _touch(manifest, MANIFEST.format(host=GOOD_HOST))
        second = json.loads(lines.until(lambda line: line.startswith("{"))[-1])
        assert second["initial"] is False and second["appeared"] == []
        assert [f["code"] for f in second["fixed"]] == ["IC114"]
        assert second["summary"]["errors"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=DEADLINE_SECONDS) == 0
