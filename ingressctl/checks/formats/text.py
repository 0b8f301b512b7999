"""`--format text`: findings grouped per file, `file:line:col: severity CODE message`, then the hint."""

from __future__ import annotations

import io
from itertools import groupby

from rich.console import Console
from rich.text import Text

from ingressctl.checks.formats.base import Format, summary_line
from ingressctl.checks.runner import CheckResult
from ingressctl.model import Diagnostic, Severity

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


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


class TextFormat(Format):
    name = "text"
    machine = False

    def render(self, result: CheckResult, *, color: bool = False) -> str:
        buffer = io.StringIO()
        # soft_wrap: never break a `file:line:col:` line, editors and terminals link them.
        console = Console(
            file=buffer,
            force_terminal=color,
            no_color=not color,
            color_system="standard" if color else None,
            soft_wrap=True,
            highlight=False,
            width=200,
        )
        for file, findings in groupby(result.findings, key=lambda d: d.location.file if d.location else ""):
            if file:
                console.print(Text(file, style="bold underline"))
            for finding in findings:
                console.print(_line(finding))
                if finding.hint:
                    console.print(Text("  hint: ", style="dim") + Text(finding.hint))
                for related in finding.related:
                    console.print(Text(f"  see: {related}", style="dim"))
            console.print()
        worst = max((f.severity.rank for f in result.findings), default=-1)
        style = "bold red" if worst == 2 else "yellow" if worst == 1 else "green"
        console.print(Text(summary_line(result), style=style))
        return buffer.getvalue()
