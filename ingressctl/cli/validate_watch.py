"""`ingressctl validate --watch PATH...`: validate again on every change of the files, for people
editing manifests.

The first run prints the whole report; every later run prints what changed since the run before:

    12:04:05 2 appeared, 1 fixed: 3 errors, 0 warnings, 1 info in 4 files (...)
    + shop.yaml:12:15: error IC114 Ingress shop/web: spec.rules[0].host: ...
    - shop.yaml:30:9: error IC203 Ingress shop/web: backend Service shop/api does not exist ...

With `--format json`, one JSON line per run: {"schema": "ingressctl.validate-watch/v1", "at": ...,
"initial": bool, "appeared": [finding], "fixed": [finding], "summary": {...}}. Findings are the
same finding across runs when code, file, object and message match (lines may move). The files are
polled twice a second (mtime and size; no inotify dependency); Ctrl-C or SIGTERM ends it (exit 0).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

from ingressctl.checks import CheckResult
from ingressctl.checks.quiet import Quiet, fingerprint
from ingressctl.cli.validate_flags import ValidateOptions
from ingressctl.model import Diagnostic, IngressctlError, InputError
from ingressctl.routing.options import CompileOptions

POLL_SECONDS = 0.5
WATCH_SCHEMA = "ingressctl.validate-watch/v1"

Stamp = tuple[tuple[str, int, int], ...]


def stamp(paths: Iterable[str]) -> Stamp:
    """What changes when a manifest under `paths` is edited, added or removed."""
    seen: list[tuple[str, int, int]] = []
    for path in paths:
        root = Path(path)
        candidates = [root] if not root.is_dir() else sorted(root.rglob("*"))
        for candidate in candidates:
            try:
                info = candidate.stat()
            except OSError:
                seen.append((str(candidate), -1, -1))
                continue
            if candidate.is_file():
                seen.append((str(candidate), info.st_mtime_ns, info.st_size))
    return tuple(seen)


def changes(before: list[Diagnostic], after: list[Diagnostic]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """The findings that appeared in `after` and those of `before` that are gone (fixed)."""
    old = Counter(fingerprint(f) for f in before)
    new = Counter(fingerprint(f) for f in after)
    appeared_budget = new - old
    fixed_budget = old - new
    appeared = []
    for finding in after:
        key = fingerprint(finding)
        if appeared_budget[key] > 0:
            appeared_budget[key] -= 1
            appeared.append(finding)
    fixed = []
    for finding in before:
        key = fingerprint(finding)
        if fixed_budget[key] > 0:
            fixed_budget[key] -= 1
            fixed.append(finding)
    return appeared, fixed


def _check(paths: list[str], options: CompileOptions, quiet: Quiet) -> CheckResult | str:
    from ingressctl.cli.validate_cmd import load_and_check, quieted, refuse_empty_input

    try:
        result = load_and_check(paths, options, parallel=False)
        refuse_empty_input(result, paths)
    except IngressctlError as exc:
        return str(exc)  # a file being saved, a path removed: say so and keep watching
    return quieted(result, quiet)


def watch(paths: list[str], options: CompileOptions, quiet: Quiet, flags: ValidateOptions) -> int:
    """Run until interrupted; exit code 0."""
    from ingressctl.checks.formats import get_format, summary_line
    from ingressctl.checks.formats.json_format import finding_dict, summary_dict
    from ingressctl.checks.formats.text import line_of

    if "-" in paths:
        raise InputError("validate --watch follows files: stdin ('-') cannot be watched")
    json_lines = flags.output_format == "json"
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    previous: list[Diagnostic] | None = None
    last_stamp: Stamp | None = None
    try:
        while True:
            current_stamp = stamp(paths)
            if current_stamp != last_stamp:
                last_stamp = current_stamp
                result = _check(paths, options, quiet)
                at = datetime.datetime.now(datetime.UTC)
                if isinstance(result, str):
                    print(f"{at.astimezone():%H:%M:%S} error: {result}", file=sys.stderr, flush=True)
                    time.sleep(POLL_SECONDS)
                    continue
                findings = list(result.findings)
                appeared, fixed = changes(previous or [], findings)
                if json_lines:
                    document = {
                        "schema": WATCH_SCHEMA,
                        "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "initial": previous is None,
                        "appeared": [finding_dict(f) for f in appeared],
                        "fixed": [finding_dict(f) for f in fixed],
                        "summary": summary_dict(result),
                    }
                    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
                elif previous is None:
                    sys.stdout.write(get_format("text", verbose=flags.verbose).render(result, color=color))
                else:
                    sys.stdout.write(
                        f"{at.astimezone():%H:%M:%S} {len(appeared)} appeared, {len(fixed)} fixed: "
                        f"{summary_line(result)}\n"
                    )
                    for finding in appeared:
                        sys.stdout.write("+ " + line_of(finding, color) + "\n")
                    for finding in fixed:
                        sys.stdout.write("- " + line_of(finding, color) + "\n")
                sys.stdout.flush()
                previous = findings
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return 0
