"""Usage errors of validate/routes: exit 2, one explanation on stderr, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run, assert_no_traceback


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "{fixture}", "--format", "bogus"),
        ("validate",),
        ("validate", "{fixture}", "--no-such-flag"),
        ("routes", "{fixture}", "--format", "sarif"),
        ("routes",),
    ],
    ids=["bad-format", "no-path", "unknown-flag", "routes-bad-format", "routes-no-path"],
)
def test_usage_errors_exit_2_without_traceback(run: Run, fixtures: Path, args: tuple[str, ...]) -> None:
    fixture = str(fixtures / "test_validate_clean_file_exits_0.yaml")
    result = run(*(a.format(fixture=fixture) for a in args))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip()
    assert_no_traceback(result)
