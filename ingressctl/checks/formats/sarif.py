"""`--format sarif`: SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

Paths are written relative to the working directory (code scanning resolves them against the
checkout); one rule per code that occurs, each linking to its README anchor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ingressctl import __version__
from ingressctl.checks.codes import INFORMATION_URI, describe, help_uri
from ingressctl.checks.formats.base import Format, is_stdin, relative_path
from ingressctl.checks.runner import CheckResult
from ingressctl.model import Diagnostic, Location, ObjectRef, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(file: str) -> str:
    """A relative URI reference for `file` when it lies under the working directory, else a file URI."""
    relative = relative_path(file)
    if Path(relative).is_absolute():
        return Path(relative).as_uri()
    return quote(relative, safe="/")


def physical_location(location: Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(location.file)}}
    if location.line:
        physical["region"] = {"startLine": location.line, "startColumn": location.column or 1}
    return physical


def logical_location(ref: ObjectRef) -> dict[str, Any]:
    return {"name": ref.name, "fullyQualifiedName": str(ref), "kind": "resource"}


def _result(finding: Diagnostic, rule_index: int) -> dict[str, Any]:
    text = finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
    location = finding.location
    if location is not None and is_stdin(location.file):
        text, location = f"{location}: {text}", None
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": text},
    }
    if location is not None:
        result["locations"] = [{"physicalLocation": physical_location(location)}]
    elif finding.location is None and finding.object is not None:
        # An object read from a cluster has no file: a logical location names it (SARIF §3.33), and
        # code-scanning uploads, which reject results without any location, get one.
        result["locations"] = [{"logicalLocations": [logical_location(finding.object)]}]
    related = [loc for loc in finding.related if not is_stdin(loc.file)]
    if related:
        result["relatedLocations"] = [
            {"id": index, "physicalLocation": physical_location(loc), "message": {"text": "related"}}
            for index, loc in enumerate(related)
        ]
    return result


class SarifFormat(Format):
    name = "sarif"

    def render(self, result: CheckResult, *, color: bool = False) -> str:
        codes = sorted({finding.code for finding in result.findings})
        index = {code: i for i, code in enumerate(codes)}
        worst: dict[str, Severity] = {}
        for finding in result.findings:
            if finding.code not in worst or finding.severity.rank > worst[finding.code].rank:
                worst[finding.code] = finding.severity
        rules = [
            {
                "id": code,
                "name": code,
                "shortDescription": {"text": describe(code)},
                "helpUri": help_uri(code),
                "defaultConfiguration": {"level": _LEVELS[worst[code]]},
            }
            for code in codes
        ]
        document = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "ingressctl",
                            "informationUri": INFORMATION_URI,
                            "version": __version__,
                            "rules": rules,
                        }
                    },
                    "columnKind": "unicodeCodePoints",
                    "results": [_result(f, index[f.code]) for f in result.findings],
                }
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
