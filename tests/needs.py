"""What a test needs from the machine: skipped where it is missing locally, a failure in CI (CI=true),
where `.ci/run` installs it (a skip there would hide that the check never ran)."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    """Skip a test that needs `what`; in CI (CI=true) fail instead: CI must run every test."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: .ci/run must install it)", pytrace=False)
    pytest.skip(what)


def tool(name: str, package: str) -> str:
    """The path of the command `name` (Debian package `package`)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (apt-get install {package})")
    assert path is not None
    return path
