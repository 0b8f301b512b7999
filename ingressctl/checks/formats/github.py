"""`--format github`: GitHub Actions workflow commands, one annotation per finding.

Escaping follows the runner's parser (actions/toolkit `command.ts`): in the message `%`, CR and LF are
percent-encoded; in properties also `:` and `,`, which would otherwise end the property.
"""

from __future__ import annotations

from ingressctl.checks.formats.base import Format, is_stdin, relative_path
from ingressctl.checks.runner import CheckResult
from ingressctl.model import Diagnostic, Severity

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Diagnostic) -> str:
    properties: list[tuple[str, str]] = []
    prefix = ""
    if finding.location is not None and is_stdin(finding.location.file):
        prefix = f"{finding.location}: "
    elif finding.location is not None:
        properties.append(("file", relative_path(finding.location.file)))
        if finding.location.line:
            properties.append(("line", str(finding.location.line)))
            if finding.location.column:
                properties.append(("col", str(finding.location.column)))
    properties.append(("title", finding.code))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    message = prefix + finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
    return f"::{_COMMANDS[finding.severity]} {rendered}::{escape_data(message)}"


class GithubFormat(Format):
    name = "github"

    def render(self, result: CheckResult, *, color: bool = False) -> str:
        return "".join(command(finding) + "\n" for finding in result.findings)
