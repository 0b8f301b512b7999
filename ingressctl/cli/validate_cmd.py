"""`ingressctl validate PATH...` / `validate --kubernetes`: the findings of loading, compiling and
linting, for people and for CI.

A CI job runs this many times, so it starts lean: no Typer, Rich, cryptography or kubernetes
unless the command needs them (`main_fast` is called by the entry point; `validate --help` and
usage errors go through Typer). tests/cli/test_validate_startup.py keeps it so.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ingressctl.cli.validate_flags import ValidateOptions
from ingressctl.model import InputError, Severity, UsageError
from ingressctl.routing.options import CompileOptions

if TYPE_CHECKING:
    from collections.abc import Callable

    import typer

    from ingressctl.checks import CheckResult
    from ingressctl.checks.quiet import Quiet
    from ingressctl.cli.project import ProjectSettings


# From this many documents on, `validate` leaves without freeing what it read (cli/quick_exit.py).
LARGE_INPUT_DOCUMENTS = 5_000


def compile_options(
    ingress_class: str,
    controller_name: str,
    allow_external_name_services: bool = False,
    require_services: bool = False,
    *,
    watch_ingress_without_class: str | None = None,
    ignore_snippets: bool = False,
    gateway_controller_name: str | None = None,
    gateway_class: str | None = None,
    entrypoint_ports: tuple[tuple[str, int, bool], ...] = (),
) -> CompileOptions:
    """CompileOptions from the flags `validate` and `routes` share."""
    from ingressctl.routing.takeover import parse_watch_without_class, serve_unclassed

    watch = parse_watch_without_class(watch_ingress_without_class)
    return CompileOptions(
        ingress_class=ingress_class,
        controller_name=controller_name,
        allow_external_name_services=allow_external_name_services,
        require_services=require_services,
        serve_unclassed=serve_unclassed(controller_name, watch),
        extra_classes=CompileOptions().extra_classes
        if ingress_class == CompileOptions().ingress_class
        else (),
        ignore_snippets=ignore_snippets,
        # Gateway API objects in the input are always compiled; without entrypoints (no --config),
        # each listener's port counts as served (routing/options.py).
        gateway=True,
        gateway_controller_name=gateway_controller_name or CompileOptions().gateway_controller_name,
        gateway_class=gateway_class or "",
        entrypoint_ports=entrypoint_ports,
    )


def load_and_check(
    paths: list[str],
    options: CompileOptions,
    *,
    parallel: bool = True,
    on_files: Callable[[int, int], None] | None = None,
    table: bool = True,
    one_shot: bool = False,
) -> CheckResult:
    """Read PATHs (`-` is stdin) and run every check; `table=False` when the routing table is not
    used (validate: it may then compile in two processes). `one_shot`: the process ends after
    reporting, and a large input is never freed (cli/quick_exit.py). Raises InputError for
    unreadable input."""
    from ingressctl.manifests import load_paths

    stdin = sys.stdin if "-" in paths else None
    loaded = load_paths(paths, stdin=stdin, parallel=parallel, on_files=on_files, meanwhile=_load_checks)
    if one_shot and loaded.documents >= LARGE_INPUT_DOCUMENTS:
        from ingressctl.cli.quick_exit import skip_teardown

        skip_teardown(loaded)
    from ingressctl.checks import check

    # The CLI is the edge that reads the clock; the checks take it as data.
    return check(loaded, options, now=datetime.datetime.now(datetime.UTC), parallel=parallel, table=table)


def _load_checks() -> None:
    """Import the compiler and the rules: load_paths does it while its worker reads (a large input)."""
    import ingressctl.checks.runner
    import ingressctl.routing.split_compile  # noqa: F401


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
    if result.findings or result.suppressed or result.documents > skipped:
        return
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.skipped.items()))
    what = f"all {skipped} documents were skipped ({kinds})" if skipped else "there are no documents"
    raise InputError(
        f"nothing to validate in {where}: {what}; validate reads Ingress, IngressClass, Service, "
        "EndpointSlice, Endpoints and Secret objects, and the Gateway API's GatewayClass, Gateway, "
        "HTTPRoute and ReferenceGrant"
    )


def refuse_static_configuration(paths: list[str]) -> None:
    """A TOML file is ingressctl's static configuration (traefik.toml), not a manifest: say where it
    is checked instead of reporting YAML errors about it."""
    for path in paths:
        if path.lower().endswith(".toml") and not Path(path).is_dir():
            raise UsageError(
                f"{path} is a TOML file: the static configuration (traefik.toml), not Kubernetes "
                f"manifests; check it with `ingressctl serve --check --config {path}`"
            )


def quiet_settings(options: ValidateOptions, project: ProjectSettings) -> Quiet:
    """--ignore, --min-severity and --baseline, over the project file's settings."""
    from ingressctl.checks.quiet import Baseline, Quiet, parse_codes

    try:
        ignore = parse_codes([*project.ignore, *options.ignore])
    except ValueError as exc:
        where = f"ignore in {project.path}" if project.path and not options.ignore else "--ignore"
        raise UsageError(f"{where}: {exc}") from exc
    severity = Severity(options.min_severity or project.min_severity or "info")
    baseline_file = options.baseline or (str(project.baseline) if project.baseline else None)
    baseline = None
    if baseline_file is not None and options.write_baseline is None:  # writing one: the old one is not read
        try:
            text = Path(baseline_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read the baseline {baseline_file}: {exc.strerror or exc}; "
                "create it with validate --write-baseline FILE"
            ) from exc
        baseline = Baseline.parse(text, baseline_file)
    return Quiet(ignore=ignore, min_severity=severity, baseline=baseline)


def quieted(result: CheckResult, quiet: Quiet) -> CheckResult:
    """`result` without what `quiet` suppresses; the counts add to those check() suppressed."""
    import dataclasses

    from ingressctl.checks.quiet import apply

    if not quiet.active:
        return result
    kept, suppressed = apply(result.findings, quiet, {})
    counts = dict(result.suppressed)
    for reason, count in suppressed.items():
        counts[reason] = counts.get(reason, 0) + count
    return dataclasses.replace(result, findings=tuple(kept), suppressed=counts)


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot write {output}: {reason}; choose another --output path") from exc


def run(options: ValidateOptions) -> int:
    """Validate as the options say; the exit code."""
    from ingressctl.cli import project
    from ingressctl.cli.progress import progress

    settings = project.ProjectSettings() if options.no_config else project.load(Path.cwd())
    quiet = quiet_settings(options, settings)
    paths = list(options.paths)
    cluster = None
    cluster_flags = (options.kubeconfig, options.context, options.namespaces, options.label_selector)
    if not paths or options.kubernetes or any(cluster_flags):
        from ingressctl.cli.cluster import cluster_source

        cluster = cluster_source(
            paths=paths,
            kubernetes=options.kubernetes,
            kubeconfig=options.kubeconfig,
            context=options.context,
            namespaces=options.namespaces,
            label_selector=options.label_selector,
        )
    refuse_static_configuration(paths)
    # A cluster snapshot holds every Service and every referenced Secret: a missing one is really missing.
    require = options.require_services or settings.require_services or cluster is not None
    if options.from_controller is not None:
        options = from_controller_defaults(options)
    compile_opts = compile_options(
        options.ingress_class,
        options.controller_name,
        options.allow_external_name_services,
        require,
        watch_ingress_without_class=options.watch_ingress_without_class,
        ignore_snippets=options.ignore_snippets,
        gateway_controller_name=options.gateway_controller_name,
        gateway_class=options.gateway_class,
    )
    if options.from_controller is not None:
        from ingressctl.cli.migration_report import run_migration_report

        return run_migration_report(paths, compile_opts, options)
    if options.watch:
        if cluster is not None:
            raise UsageError("validate --watch follows files: give PATHs instead of --kubernetes")
        from ingressctl.cli.validate_watch import watch

        return watch(paths, compile_opts, quiet, options)
    # JSON, SARIF and GitHub annotations are read by programs: no progress, even on a terminal.
    for_people = options.output_format == "text"
    if cluster is not None:
        from ingressctl.cli.cluster import check_cluster

        with progress("reading the cluster", enabled=for_people):
            result = check_cluster(cluster, compile_opts)
    else:
        with progress(f"validating {', '.join(paths)}", enabled=for_people) as tracker:
            result = load_and_check(paths, compile_opts, on_files=tracker.files, table=False, one_shot=True)
        refuse_empty_input(result, paths)
    if options.write_baseline is not None:
        return write_baseline(result, quiet, options.write_baseline)
    result = quieted(result, quiet)
    code = exit_code(result, strict=options.strict)
    if options.quiet:
        if code == 0:
            # Nothing failed: nothing to say on a terminal; programs still get their (empty) document.
            if options.output_format != "text":
                report(failing_only(result, strict=options.strict), options, summary=False)
            return code
        result = failing_only(result, strict=options.strict)
    report(result, options)
    return code


def failing_only(result: CheckResult, *, strict: bool) -> CheckResult:
    """`result` with only the findings that fail the check (`--quiet`): errors, and warnings with --strict."""
    import dataclasses

    floor = Severity.WARNING.rank if strict else Severity.ERROR.rank
    failing = tuple(f for f in result.findings if f.severity.rank >= floor)
    hidden = len(result.findings) - len(failing)
    if not hidden:
        return result
    # Counted in the summary as suppressed, so that its counts never read as "no warnings".
    suppressed = {**result.suppressed, QUIET_REASON: hidden}
    return dataclasses.replace(result, findings=failing, suppressed=suppressed)


QUIET_REASON = "not failing, --quiet"


def from_controller_defaults(options: ValidateOptions) -> ValidateOptions:
    """validate --from ingress-nginx: the class and controller name it claimed, unless given."""
    import dataclasses

    from ingressctl.routing.takeover import INGRESS_NGINX_CLASS, INGRESS_NGINX_CONTROLLER

    defaults = ValidateOptions()
    return dataclasses.replace(
        options,
        ingress_class=INGRESS_NGINX_CLASS
        if options.ingress_class == defaults.ingress_class
        else options.ingress_class,
        controller_name=INGRESS_NGINX_CONTROLLER
        if options.controller_name == defaults.controller_name
        else options.controller_name,
    )


def write_baseline(result: CheckResult, quiet: Quiet, file: str) -> int:
    """Record every finding not otherwise suppressed, so that only new ones are reported from now on."""
    import dataclasses

    from ingressctl.checks.quiet import Baseline

    kept = quieted(result, dataclasses.replace(quiet, baseline=None))
    try:
        Path(file).write_text(Baseline.of(kept.findings).dump(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {file}: {exc.strerror or exc}; choose another path") from exc
    print(f"wrote {len(kept.findings)} findings to the baseline {file}", file=sys.stderr, flush=True)
    return 0


def report(result: CheckResult, options: ValidateOptions, *, summary: bool = True) -> None:
    """The report on stdout (or --output), the summary on stderr when stdout is for machines."""
    from ingressctl.checks.formats import get_format, summary_line

    formatter = get_format(options.output_format, verbose=options.verbose)
    color = (
        options.output is None
        and not formatter.machine
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
    )
    _write(formatter.render(result, color=color), options.output)
    if summary and (formatter.machine or options.output is not None):
        print(summary_line(result), file=sys.stderr, flush=True)


def main_fast(argv: list[str]) -> int | None:
    """`ingressctl validate ARGS` without Typer (None: let Typer handle help and usage errors)."""
    from ingressctl.cli.validate_flags import parse

    options = parse(argv)
    if options is None:
        return None
    from ingressctl.cli.failure import run_lean

    return run_lean(lambda: run(options))  # exit codes come from cli/failure.py, as for every command


def register(app: typer.Typer) -> None:
    """Add the command to the app (`validate --help`, completion, and usage errors in Typer's words)."""
    import typer

    from ingressctl.cli.validate_flags import typer_command

    def validate(options: ValidateOptions) -> None:
        raise typer.Exit(run(options))

    app.command("validate")(typer_command(validate))
