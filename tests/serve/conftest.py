"""Run the real `ingressctl serve` in a subprocess and find out where it listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.serve.backends import Backend

_LISTENING = re.compile(r"listening: (.*)")


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    _reader: threading.Thread | None = None

    def start_reader(self) -> None:
        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                m = regex.search(line)
                if m:
                    return m
            if self.proc.poll() is not None and self._reader is not None:
                self._reader.join(1)
                for line in self.lines[start:]:
                    m = regex.search(line)
                    if m:
                        return m
                raise AssertionError(
                    f"serve exited ({self.proc.returncode}) before {pattern!r}:\n" + self.text
                )
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n" + self.text)

    def wait_ready(self) -> None:
        m = self.wait_for(r"listening: (.*)")
        for part in m.group(1).split(", "):
            name, _, addr = part.partition("=")
            self.addresses[name] = addr
        self.wait_for(r"configuration applied")

    def url(self, path: str = "/", entrypoint: str = "web") -> str:
        return f"http://{self.addresses[entrypoint]}{path}"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def peak_rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")


@pytest.fixture
def serve(cli_env: dict[str, str]) -> Iterator[object]:
    started: list[ServeProcess] = []

    def start(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> ServeProcess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingressctl", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**cli_env, **(env or {})},
            cwd=cwd,
        )
        sp = ServeProcess(proc)
        sp.start_reader()
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()


def run_cli(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingressctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=os.getcwd(),
    )


# ---------------------------------------------------------------- cluster tests (the test API server)


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    """A real HTTP server on loopback that answers with its address and the Host it was asked for."""
    b = await Backend("127.0.0.1").start()
    yield b
    await b.stop()


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[object]:
    from tests.kubeapi import KubeAPIServer

    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


def lines_since(sp: ServeProcess, start: int, pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [line for line in sp.lines[start:] if regex.search(line)]


@pytest.fixture
def serve_with_access_log(cli_env: dict[str, str]) -> Iterator[Callable[..., ServeProcess]]:
    """Like the `serve` fixture, with the access log (stdout) in the lines read, after the log."""
    started: list[ServeProcess] = []

    def run(*args: str) -> ServeProcess:
        command = [sys.executable, "-m", "ingressctl", "serve", *args]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env
        )
        proc.stderr = proc.stdout  # ServeProcess reads "stderr"
        sp = ServeProcess(proc)
        sp.start_reader()
        started.append(sp)
        return sp

    yield run
    for sp in started:
        sp.stop()
