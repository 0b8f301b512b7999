"""`validate --from ingress-nginx`: the migration report (checks/migration.py), as text or JSON.

Exit codes: 0 everything carries over or is only lost (warnings), 1 some annotation is refused
(those routes would answer 503 under ingressctl), 2 unreadable input.
"""

from __future__ import annotations

import datetime
import json
import sys

from ingressctl.checks.migration import MigrationReport, migration_report
from ingressctl.cli.validate_flags import ValidateOptions
from ingressctl.model import UsageError
from ingressctl.routing.nginx_annotations import Status
from ingressctl.routing.options import CompileOptions

_MARK = {
    Status.SUPPORTED: "carries over",
    Status.CHANGES: "changes",
    Status.LOST: "lost",
    Status.REFUSED: "REFUSED",
    Status.UNKNOWN: "unknown",
}


def run_migration_report(paths: list[str], options: CompileOptions, flags: ValidateOptions) -> int:
    """Load PATHs, compile as `serve` would when taking over, print the report; the exit code."""
    from ingressctl.checks import check
    from ingressctl.cli.validate_cmd import refuse_empty_input
    from ingressctl.manifests import load_paths

    if not paths:
        raise UsageError("validate --from ingress-nginx reads manifest files: give PATHs")
    if flags.output_format not in ("text", "json"):
        raise UsageError(f"validate --from: --format {flags.output_format} is not offered; use text or json")
    loaded = load_paths(paths, stdin=sys.stdin if "-" in paths else None)
    result = check(loaded, options, now=datetime.datetime.now(datetime.UTC))
    refuse_empty_input(result, paths)
    report = migration_report(loaded.snapshot, options, result.findings)
    text = render_json(report) if flags.output_format == "json" else render_text(report, options)
    if flags.output is not None:
        with open(flags.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return 1 if report.refused else 0


def report_dict(report: MigrationReport) -> dict[str, object]:
    return {
        "from": "ingress-nginx",
        "ingresses": [
            {
                "ingress": item.ref,
                "file": item.file,
                "line": item.line,
                "served": item.served,
                "not_served_because": item.why_not or None,
                "errors": item.errors,
                "annotations": [
                    {
                        "key": o.key,
                        "value": o.value,
                        "status": o.status.value,
                        "detail": o.detail,
                        "line": o.line,
                    }
                    for o in item.annotations
                ],
            }
            for item in report.ingresses
        ],
        "summary": report.summary(),
        "totals": report.totals(),
    }


def render_json(report: MigrationReport) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"


def render_text(report: MigrationReport, options: CompileOptions) -> str:
    lines = [
        f"Migration report from ingress-nginx (class {options.ingress_class!r}, controller "
        f"{options.controller_name!r}, Ingresses without a class "
        f"{'served' if options.serve_unclassed else 'not served'})",
        "",
    ]
    for item in report.ingresses:
        where = f"{item.file}:{item.line}" if item.file else ""
        head = f"{item.ref} ({where})" if where else item.ref
        if not item.served:
            lines.append(f"{head}: not served by this controller: {item.why_not}")
            lines.append("")
            continue
        state = "routes answer 503 or are skipped" if item.errors else "served"
        lines.append(f"{head}: {state}")
        if not item.annotations:
            lines.append("  no ingress-nginx annotations")
        for outcome in item.annotations:
            name = outcome.key.removeprefix("nginx.ingress.kubernetes.io/")
            lines.append(f"  {_MARK[outcome.status]:<12} {name}: {outcome.detail}")
        lines.append("")
    summary = report.summary()
    if summary:
        width = max(len(key) for key in summary)
        statuses = [s.value for s in Status]
        lines.append("Summary (number of Ingresses per annotation and outcome)")
        lines.append(f"  {'annotation':<{width}}  " + "  ".join(f"{s:>9}" for s in statuses))
        for key, counts in summary.items():
            lines.append(f"  {key:<{width}}  " + "  ".join(f"{counts.get(s, 0):>9}" for s in statuses))
    totals = report.totals()
    served = sum(1 for i in report.ingresses if i.served)
    lines.append("")
    lines.append(
        f"{len(report.ingresses)} Ingresses ({served} served): "
        + ", ".join(f"{count} {status}" for status, count in totals.items())
    )
    return "\n".join(lines) + "\n"
