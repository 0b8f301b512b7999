"""`--format text`: findings grouped per file, `file:line:col: severity CODE message`, then the hint."""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby

from ingressctl.checks.formats.base import Format, summary_line
from ingressctl.checks.runner import CheckResult
from ingressctl.model import Diagnostic, Severity

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
# ANSI SGR codes of the styles used (no Rich: `validate` starts lean, and this is all it needs).
_SGR = {
    "bold": "1",
    "dim": "2",
    "bold underline": "1;4",
    "bold red": "1;31",
    "yellow": "33",
    "cyan": "36",
    "green": "32",
}


class Text:
    """A line made of styled pieces, rendered with or without colour."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.pieces: list[tuple[str, str]] = []
        if text:
            self.append(text, style)

    def append(self, text: str, style: str = "") -> None:
        self.pieces.append((text, style))

    def __add__(self, other: Text) -> Text:
        joined = Text()
        joined.pieces = [*self.pieces, *other.pieces]
        return joined

    def render(self, color: bool) -> str:
        if not color:
            return "".join(text for text, _ in self.pieces)
        return "".join(f"\x1b[{_SGR[style]}m{text}\x1b[0m" if style else text for text, style in self.pieces)


def _line(finding: Diagnostic) -> Text:
    text = Text()
    message = finding.message
    if finding.location is not None:
        text.append(f"{finding.location}: ", style="bold")
    elif finding.object is not None:
        # Read from a cluster: no file, the object is where to look (`Ingress shop/web: error IC203 ...`).
        where = str(finding.object)
        text.append(f"{where}: ", style="bold")
        message = message.removeprefix(f"{where}: ")
    text.append(finding.severity.value, style=_STYLES[finding.severity])
    text.append(f" {finding.code} ", style="dim")
    text.append(message)
    return text


def line_of(finding: Diagnostic, color: bool = False) -> str:
    """One finding as the one line text output prints for it (the watch mode's +/- lines)."""
    return _line(finding).render(color)


def _collapsed(findings: tuple[Diagnostic, ...], verbose: bool) -> tuple[list[Diagnostic], list[Text]]:
    """Info findings of a code that repeats (one per object, like IC206 in a manifests repository)
    become one line with a count, unless `verbose`; everything else is listed."""
    if verbose:
        return list(findings), []
    per_code = Counter(f.code for f in findings if f.severity is Severity.INFO)
    repeated = {code for code, count in per_code.items() if count > 1}
    if not repeated:
        return list(findings), []
    listed = [f for f in findings if f.severity is not Severity.INFO or f.code not in repeated]
    lines: list[Text] = []
    for code in sorted(repeated):
        first = next(f for f in findings if f.code == code and f.severity is Severity.INFO)
        where = str(first.location) if first.location is not None else str(first.object or "")
        line = Text()
        line.append("info", style=_STYLES[Severity.INFO])
        line.append(f" {code} ", style="dim")
        line.append(f"{per_code[code]} times, e.g. {where}: {first.message} (-v lists each)")
        lines.append(line)
    return listed, lines


class TextFormat(Format):
    name = "text"
    machine = False

    def render(self, result: CheckResult, *, color: bool = False) -> str:
        buffer = io.StringIO()

        def emit(line: Text | None = None) -> None:
            # One finding, one line: never wrapped (editors and terminals link `file:line:col:`).
            buffer.write((line.render(color) if line is not None else "") + "\n")

        listed, collapsed = _collapsed(result.findings, self.verbose)
        for file, findings in groupby(listed, key=lambda d: d.location.file if d.location else ""):
            if file:
                emit(Text(file, style="bold underline"))
            for finding in findings:
                emit(_line(finding))
                if finding.hint:
                    emit(Text("  hint: ", style="dim") + Text(finding.hint))
                for related in finding.related:
                    emit(Text(f"  see: {related}", style="dim"))
            emit()
        for line in collapsed:
            emit(line)
        if collapsed:
            emit()
        worst = max((f.severity.rank for f in result.findings), default=-1)
        style = "bold red" if worst == 2 else "yellow" if worst == 1 else "green"
        emit(Text(summary_line(result), style=style))
        return buffer.getvalue()
