"""`--format json`: the `ingressctl.validate/v1` document (keys are stable; new keys may be added)."""

from __future__ import annotations

import json
from typing import Any

from ingressctl.checks.formats.base import Format
from ingressctl.checks.runner import CheckResult
from ingressctl.model import Diagnostic, Location, ObjectRef, Severity

SCHEMA = "ingressctl.validate/v1"


def location_dict(location: Location | None) -> dict[str, Any]:
    if location is None:
        return {"file": None, "line": None, "column": None}
    return {"file": location.file, "line": location.line or None, "column": location.column or None}


def object_dict(ref: ObjectRef | None) -> dict[str, str] | None:
    if ref is None:
        return None
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def finding_dict(finding: Diagnostic) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        **location_dict(finding.location),
        "message": finding.message,
        "hint": finding.hint,
        "object": object_dict(finding.object),
        "related": [location_dict(loc) for loc in finding.related],
    }


def summary_dict(result: CheckResult) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "errors": result.count(Severity.ERROR),
        "warnings": result.count(Severity.WARNING),
        "info": result.count(Severity.INFO),
        "files": len(result.files),
        "documents": result.documents,
        "skipped": dict(sorted(result.skipped.items())),
        "suppressed": dict(result.suppressed),
    }
    if result.origin:  # read from a cluster, not files
        summary["source"] = result.origin
    return summary


class JsonFormat(Format):
    name = "json"

    def render(self, result: CheckResult, *, color: bool = False) -> str:
        document = {
            "schema": SCHEMA,
            "summary": summary_dict(result),
            "findings": [finding_dict(f) for f in result.findings],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
