"""The one interface every `validate` output format implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from ingressctl.checks.runner import CheckResult
from ingressctl.model import Severity


class Format(ABC):
    """Renders a CheckResult as text. `machine` formats keep stdout parseable (summary goes to stderr)."""

    name: ClassVar[str]
    machine: ClassVar[bool] = True

    def __init__(self, *, verbose: bool = False) -> None:
        # verbose: list every finding (text collapses repeated info findings per code).
        self.verbose = verbose

    @abstractmethod
    def render(self, result: CheckResult, *, color: bool = False) -> str:
        """The whole document, ending with a newline."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(result: CheckResult) -> str:
    """`N errors, M warnings, K info in F files (D documents, S skipped objects)`, or for a cluster
    `... in the cluster at URL (N objects)`."""
    skipped = sum(result.skipped.values())
    counts = (
        f"{_plural(result.count(Severity.ERROR), 'error')}, "
        f"{_plural(result.count(Severity.WARNING), 'warning')}, "
        f"{result.count(Severity.INFO)} info"
    )
    if result.origin and not result.files:
        line = f"{counts} in {result.origin} ({_plural(result.documents, 'object')})"
    else:
        line = (
            f"{counts} in {_plural(len(result.files), 'file')} "
            f"({_plural(result.documents, 'document')}, {_plural(skipped, 'skipped object')})"
        )
    if result.suppressed:
        reasons = ", ".join(f"{reason} {count}" for reason, count in result.suppressed.items())
        line += f"; {sum(result.suppressed.values())} suppressed ({reasons})"
    return line


def relative_path(file: str) -> str:
    """`file` relative to the working directory when it lies under it (CI annotates repository paths)."""
    path = Path(file)
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return file
    return path.as_posix()


STDIN_NAMES = frozenset({"-", "<stdin>"})


def is_stdin(file: str) -> bool:
    """Input read from stdin has no file to point CI annotations at; its position goes in the message."""
    return file in STDIN_NAMES
