"""A progress bar on a terminal (files done / total) for inputs that take a while; never on a pipe or
for machine formats.

Run through a real pseudo-terminal: Rich decides what to draw from the terminal it is given. The
one-second delay is set to zero (INGRESSCTL_PROGRESS_DELAY) so that a small input shows the bar
without any timing in the test.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.generate import write_manifests

FILES = 20
_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # colours only: cursor moves and erases stay


def _manifests(tmp_path: Path) -> Path:
    directory = tmp_path / "manifests"
    directory.mkdir()
    write_manifests(directory, FILES * 30, per_file=30)
    assert len(list(directory.iterdir())) == FILES
    return directory


def _on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `ingressctl validate ARGS` with stdout and stderr on a pseudo-terminal: (exit code, output)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ingressctl", "validate", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not data:
                break
            output += data
        code = process.wait(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    return code, _STYLE.sub("", output.decode("utf-8", "replace"))


def _terminal_env(cli_env: dict[str, str]) -> dict[str, str]:
    env = dict(cli_env, TERM="xterm-256color", INGRESSCTL_PROGRESS_DELAY="0")
    env.pop("NO_COLOR", None)
    return env


def test_a_terminal_shows_files_done_of_total_then_the_bar_is_erased(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    code, output = _on_a_terminal(_terminal_env(cli_env), str(_manifests(tmp_path)))
    assert code == 0, output
    assert f"/{FILES} files" in output, output[-2000:]
    assert "━" in output  # Rich's bar
    # The bar is gone before the report: its last drawing is followed by the erase, then the summary.
    last_bar = output.rindex(f"/{FILES} files")
    summary = output.index("0 errors, 0 warnings", last_bar)
    assert "\x1b[2K" in output[last_bar:summary]


def test_machine_formats_and_pipes_never_see_it(tmp_path: Path, cli_env: dict[str, str]) -> None:
    manifests = str(_manifests(tmp_path))
    code, output = _on_a_terminal(_terminal_env(cli_env), manifests, "--format", "json")
    assert code == 0, output
    assert "━" not in output and f"/{FILES} files" not in output
    assert output.lstrip().startswith("{")
    piped = subprocess.run(
        [sys.executable, "-m", "ingressctl", "validate", manifests],
        capture_output=True,
        text=True,
        env=_terminal_env(cli_env),
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0
    assert "━" not in piped.stderr + piped.stdout and "files" not in piped.stderr.replace(
        f"in {FILES} files", ""
    )
