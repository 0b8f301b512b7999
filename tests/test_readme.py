"""The README is the user's manual: its promises are checked against the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ingressctl.cli.docs import render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:10]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_generated_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `make docs` to regenerate the README's tables"


def test_every_finding_code_has_an_anchor_for_sarif_links() -> None:
    from ingressctl.checks.codes import all_codes

    anchors = set(re.findall(r'<a id="(ic\d+)"></a>', README.read_text(encoding="utf-8")))
    assert {code.lower() for code in all_codes()} <= anchors


def test_every_command_in_the_readme_exists() -> None:
    """Each `ingressctl X` the README shows is a real command (its --help exits 0)."""
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S))
    pattern = r"^ingressctl ([a-z]+(?: (?:request|inspect|revoke|export|check))?)"
    commands = set(re.findall(pattern, blocks, re.M))
    assert {"validate", "routes", "migrate", "serve"} <= commands
    for command in sorted(commands):
        proc = subprocess.run(
            [sys.executable, "-m", "ingressctl", *command.split(), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, (command, proc.stderr)
