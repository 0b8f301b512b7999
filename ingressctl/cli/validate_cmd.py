"""`ingressctl validate PATH...` / `validate --kubernetes`: the findings of loading, compiling and
linting, for people and for CI."""

from __future__ import annotations

import datetime
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from ingressctl.cli.cluster import (
    CONTEXT_OPTION,
    KUBECONFIG_OPTION,
    KUBERNETES_OPTION,
    LABEL_SELECTOR_OPTION,
    NAMESPACE_OPTION,
    check_cluster,
    cluster_source,
)
from ingressctl.model import InputError, Severity
from ingressctl.routing.options import CompileOptions

if TYPE_CHECKING:
    from ingressctl.checks import CheckResult

# The core (loader, compiler, checks) is imported when a command runs, not when the app is built:
# `ingressctl --help` and shell completion stay fast.


class ValidateFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


def compile_options(
    ingress_class: str,
    controller_name: str,
    allow_external_name_services: bool = False,
    require_services: bool = False,
) -> CompileOptions:
    """CompileOptions from the flags `validate` and `routes` share."""
    return CompileOptions(
        ingress_class=ingress_class,
        controller_name=controller_name,
        allow_external_name_services=allow_external_name_services,
        require_services=require_services,
    )


def load_and_check(paths: list[str], options: CompileOptions) -> CheckResult:
    """Read PATHs (`-` is stdin) and run every check. Raises InputError for unreadable input."""
    from ingressctl.checks import check
    from ingressctl.manifests import load_paths

    stdin = sys.stdin if "-" in paths else None
    # The CLI is the edge that reads the clock; the checks take it as data.
    return check(
        load_paths(paths, stdin=stdin, parallel=True),
        options,
        now=datetime.datetime.now(datetime.UTC),
        parallel=True,
    )


def exit_code(result: CheckResult, *, strict: bool) -> int:
    """0 clean (info only is clean), 1 errors, or warnings with --strict."""
    worst = max((finding.severity.rank for finding in result.findings), default=-1)
    if worst >= Severity.ERROR.rank or (strict and worst >= Severity.WARNING.rank):
        return 1
    return 0


def refuse_empty_input(result: CheckResult, paths: list[str]) -> None:
    """No input is not success: no manifest files, or files whose every document was skipped, exit 2.

    Most often a wrong path or glob in a CI job, which would otherwise pass the gate forever.
    """
    where = ", ".join(paths) or "(no PATH given)"
    if not result.files:
        raise InputError(
            f"no manifest files found in {where}; give files or directories holding YAML manifests"
        )
    skipped = sum(result.skipped.values())
    if result.findings or result.documents > skipped:
        return
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.skipped.items()))
    what = f"all {skipped} documents were skipped ({kinds})" if skipped else "there are no documents"
    raise InputError(
        f"nothing to validate in {where}: {what}; validate reads Ingress, IngressClass, Service, "
        "EndpointSlice, Endpoints and Secret objects"
    )


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot write {output}: {reason}; choose another --output path") from exc


def validate(
    paths: list[str] | None = typer.Argument(
        None,
        metavar="PATH",
        help="Manifest files or directories (YAML, multi-document); '-' reads stdin. Not with --kubernetes.",
        show_default=False,
    ),
    output_format: ValidateFormat = typer.Option(
        ValidateFormat.TEXT, "--format", "-f", case_sensitive=False, help="Output format."
    ),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail the check too (exit 1)."),
    require_services: bool = typer.Option(
        False,
        "--require-services",
        help="A Service an Ingress names but the input lacks is an error (even with no Services given; "
        "always on with --kubernetes).",
    ),
    ingress_class: str = typer.Option(
        "ingressctl", "--ingress-class", help="Ingress class ingressctl serves (kubernetes.io/ingress.class)."
    ),
    controller_name: str = typer.Option(
        "ingressctl.io/ingress-controller",
        "--controller-name",
        help="IngressClass spec.controller that ingressctl claims.",
    ),
    allow_external_name_services: bool = typer.Option(
        False, "--allow-external-name-services", help="Proxy ExternalName Services (off: they are findings)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", dir_okay=False, help="Write the report to FILE instead of stdout."
    ),
    kubernetes: bool = KUBERNETES_OPTION,
    kubeconfig: str | None = KUBECONFIG_OPTION,
    context: str | None = CONTEXT_OPTION,
    namespaces: list[str] | None = NAMESPACE_OPTION,
    label_selector: str | None = LABEL_SELECTOR_OPTION,
) -> None:
    """Check Ingress manifests (or, with --kubernetes, a cluster) the way the controller would read them.

    Exit codes: 0 clean (info findings only), 1 errors (or warnings with --strict),
    2 unreadable input, an unreachable or refusing API server, or bad usage.
    """
    from ingressctl.checks.formats import get_format, summary_line

    cluster = cluster_source(
        paths=paths,
        kubernetes=kubernetes,
        kubeconfig=kubeconfig,
        context=context,
        namespaces=namespaces,
        label_selector=label_selector,
    )
    paths = paths or []
    # A cluster snapshot holds every Service and every referenced Secret: a missing one is really missing.
    require_services = require_services or cluster is not None
    options = compile_options(ingress_class, controller_name, allow_external_name_services, require_services)
    result = check_cluster(cluster, options) if cluster is not None else load_and_check(paths, options)
    if cluster is None:
        refuse_empty_input(result, paths)
    formatter = get_format(output_format.value)
    color = output is None and not formatter.machine and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    _write(formatter.render(result, color=color), output)
    err = Console(stderr=True, highlight=False)
    if formatter.machine or output is not None:
        err.print(summary_line(result), soft_wrap=True)
    raise typer.Exit(exit_code(result, strict=strict))


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("validate")(validate)
