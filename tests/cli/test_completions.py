"""The shell completion scripts in completions/: up to date, and bash completion really completes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

COMPLETIONS = REPO / "completions"
FILES = ("ingressctl.bash", "_ingressctl", "ingressctl.fish")


def test_committed_scripts_equal_freshly_generated_ones(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingressctl.cli.completions", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in FILES:
        fresh = (tmp_path / "out" / name).read_text(encoding="utf-8")
        committed = (COMPLETIONS / name).read_text(encoding="utf-8")
        assert committed == fresh, f"completions/{name} is stale: run `make completions`"
    assert "_INGRESSCTL_COMPLETE=complete_bash" in (COMPLETIONS / "ingressctl.bash").read_text(
        encoding="utf-8"
    )
    assert (COMPLETIONS / "_ingressctl").read_text(encoding="utf-8").startswith("#compdef ingressctl")


def test_generator_without_directory_is_a_usage_error(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingressctl.cli.completions"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.fixture
def program_on_path(tmp_path: Path, cli_env: dict[str, str]) -> dict[str, str]:
    """An `ingressctl` executable on PATH, like the console script pip installs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "ingressctl"
    program.write_text(
        f"#!{sys.executable}\nimport sys\nfrom ingressctl.cli.app import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    program.chmod(0o755)
    env = dict(cli_env)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    return env


def complete_in_bash(env: dict[str, str], *words: str) -> list[str]:
    """Source the committed script and call its completion function as bash would on <TAB>."""
    bash = shutil.which("bash")
    assert bash is not None, "bash is needed to test bash completion"
    script = (
        f"source {COMPLETIONS / 'ingressctl.bash'}\n"
        'read -r -a COMP_WORDS <<< "$WORDS"\n'
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        '[[ "$WORDS" == *" " ]] && { COMP_WORDS+=(""); COMP_CWORD=$(( COMP_CWORD + 1 )); }\n'
        "complete -p ingressctl >/dev/null || exit 3\n"
        "_ingressctl_completion ingressctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env={**env, "WORDS": " ".join(words)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


def test_bash_completes_commands(program_on_path: dict[str, str]) -> None:
    assert complete_in_bash(program_on_path, "ingressctl", "val") == ["validate"]
    assert {"validate", "routes"} <= set(complete_in_bash(program_on_path, "ingressctl", ""))


def test_bash_completes_options_and_their_values(program_on_path: dict[str, str]) -> None:
    assert complete_in_bash(program_on_path, "ingressctl", "routes", "--expl") == ["--explain"]
    assert complete_in_bash(program_on_path, "ingressctl", "validate", "--format", "s") == ["sarif"]
