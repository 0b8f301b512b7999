"""Run the real `ingressctl` in a subprocess, as users and CI do."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def run(ingressctl_cmd: list[str], cli_env: dict[str, str]) -> Run:
    def _run(
        *args: str, stdin: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ingressctl_cmd, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=cli_env,
            cwd=cwd,
            timeout=60,
            check=False,
        )

    return _run


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


@pytest.fixture
def run_80(ingressctl_cmd: list[str], cli_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ingressctl validate --help` in an 80-column terminal."""
    return subprocess.run(
        [*ingressctl_cmd, "validate", "--help"],
        capture_output=True,
        text=True,
        env={**cli_env, "COLUMNS": "80"},
        timeout=60,
        check=False,
    )
