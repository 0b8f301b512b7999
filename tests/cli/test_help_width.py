"""Every command's `--help` reads at 80 columns: no line wider (an option's metavar included)."""

from __future__ import annotations

import subprocess

import pytest

COMMANDS = [
    [],
    ["validate"],
    ["routes"],
    ["migrate"],
    ["serve"],
    ["certs"],
    ["certs", "inspect"],
    ["certs", "revoke"],
    ["acme"],
    ["acme", "inspect"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "ingressctl")
def test_help_fits_80_columns(command: list[str], ingressctl_cmd: list[str], cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [*ingressctl_cmd, *command, "--help"],
        capture_output=True,
        text=True,
        env={**cli_env, "COLUMNS": "80"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wide = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert not wide, wide
