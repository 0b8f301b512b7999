"""`ingressctl version` / `--version`: what is running, as a person or a script reads it."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata

from ingressctl import __version__


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingressctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_text_names_the_version_python_libraries_and_event_loop(cli_env: dict[str, str]) -> None:
    proc = run("version", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"ingressctl {__version__}"
    assert f"python     CPython {platform.python_version()}" in proc.stdout
    assert f"  aiohttp      {metadata.version('aiohttp')}" in lines
    assert f"  cryptography {metadata.version('cryptography')}" in lines
    assert f"  kubernetes   {metadata.version('kubernetes')}" in lines
    assert "event loop uvloop (uvloop on)" in lines  # the test environment installs the speed extra
    assert "commit     unknown" in lines
    # --version says the same.
    assert run("--version", env=cli_env).stdout == proc.stdout


def test_json_for_scripts_with_the_build_from_the_image(cli_env: dict[str, str]) -> None:
    env = {
        **cli_env,
        "INGRESSCTL_BUILD_COMMIT": "0123abcd",
        "INGRESSCTL_BUILD_DATE": "2026-12-01T00:00:00Z",
        "INGRESSCTL_EVENT_LOOP": "asyncio",
    }
    proc = run("version", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ingressctl.version/v1" and doc["version"] == __version__
    assert doc["libraries"]["acme"] == metadata.version("acme")
    assert doc["libraries"]["PyYAML"] == metadata.version("PyYAML")
    assert doc["uvloop"] is False  # INGRESSCTL_EVENT_LOOP=asyncio: serve runs on asyncio's loop
    assert doc["build"]["commit"] == "0123abcd" and doc["build"]["date"] == "2026-12-01T00:00:00Z"
    assert run("version", "--format", "yaml", env=cli_env).returncode == 2
