"""Generate the shell completion scripts shipped in `completions/` (run: `make completions`).

    python -m ingressctl.cli.completions DIR   # writes ingressctl.bash, _ingressctl (zsh), ingressctl.fish

The scripts come from the completion classes of the click that Typer runs on (Typer vendors click as
`typer._click` and registers its own Bash/Zsh/Fish classes there). Plain `click.shell_completion`
classes would write scripts that send `_INGRESSCTL_COMPLETE=bash_complete`, an instruction the Typer
program does not understand (it expects `complete_bash`): completion would silently offer nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer._click.shell_completion import ShellComplete, get_completion_class
from typer._completion_classes import completion_init
from typer.main import get_command

from ingressctl.cli.app import app

PROG_NAME = "ingressctl"
COMPLETE_VAR = "_INGRESSCTL_COMPLETE"
# shell -> file name, as bash-completion, zsh's fpath and fish's vendor_completions.d look them up.
FILES: dict[str, str] = {"bash": "ingressctl.bash", "zsh": "_ingressctl", "fish": "ingressctl.fish"}


def completion_class(shell: str) -> type[ShellComplete]:
    completion_init()
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the three shells are always registered by completion_init
        raise LookupError(f"no completion support for {shell}")
    return cls


def script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish), ending with one newline."""
    cls = completion_class(shell)
    source = cls(get_command(app), {}, PROG_NAME, COMPLETE_VAR).source()
    return source.strip("\n") + "\n"


def generate(directory: Path) -> list[Path]:
    """Write every script into `directory` (created if needed); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        target = directory / name
        target.write_text(script(shell), encoding="utf-8")
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m ingressctl.cli.completions DIR", file=sys.stderr)
        return 2
    for path in generate(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
