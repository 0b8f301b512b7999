"""Shared fixtures. Area-specific fixtures live in each test folder's conftest.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the real `ingressctl` in a subprocess: no colour, wide terminal."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture
def ingressctl_cmd() -> list[str]:
    return [sys.executable, "-m", "ingressctl"]


def pytest_configure(config: pytest.Config) -> None:
    """When the mypyc build is older than a source (ingressctl/manifests/native.py), the session
    tests the Python source (no process prints the warning line) and test_native.py fails with
    "run `make compile`": nothing runs outdated compiled code."""
    from ingressctl.manifests import native

    if native.build_state().startswith("outdated"):
        os.environ[native.PURE_PYTHON_VARIABLE] = "1"
