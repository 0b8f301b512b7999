"""The `validate` flags, declared once.

`validate` runs many times per CI job, so it starts without Typer and Rich: argparse reads the flags
on the lean start path, and Typer (loaded only for `validate --help`, completion, and usage errors,
which it words) builds its command from the same FLAGS, as `serve_flags` does for `serve`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn

if TYPE_CHECKING:
    import argparse
    import enum

# text: one value; many: repeatable (a list); switch: --x only; choice: one of `choices`.
Kind = Literal["text", "many", "switch", "choice"]

FORMATS = ("text", "json", "sarif", "github")
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag of `validate`, for argparse and for Typer."""

    field: str  # the ValidateOptions field it fills
    names: tuple[str, ...]  # the long name first
    help: str  # "" for the cluster flags: their help is cluster.py's, shared with `routes`
    kind: Kind = "text"
    metavar: str | None = None
    default: str | bool | list[str] | None = None
    choices: tuple[str, ...] = ()


FLAGS: tuple[Flag, ...] = (
    Flag(
        "output_format",
        ("--format", "-f"),
        "Output format: text, json, sarif or github.",
        "choice",
        "FORMAT",
        "text",
        FORMATS,
    ),
    Flag("strict", ("--strict",), "Warnings fail the check too (exit 1).", "switch", default=False),
    Flag(
        "min_severity",
        ("--min-severity",),
        "Report only findings of this severity or worse: error, warning or info (default info, or "
        "min-severity in .ingressctl.toml).",
        "choice",
        "SEVERITY",
        None,
        SEVERITIES,
    ),
    Flag(
        "ignore",
        ("--ignore",),
        "Do not report these codes, e.g. --ignore IC204,IC206 (repeatable; added to ignore in "
        ".ingressctl.toml). Per object: the annotation ingressctl.io/ignore: IC204,IC206.",
        "many",
        "CODES",
        [],
    ),
    Flag(
        "baseline",
        ("--baseline",),
        "Report only findings that FILE (written by --write-baseline) does not list.",
        metavar="FILE",
    ),
    Flag(
        "write_baseline",
        ("--write-baseline",),
        "Write the current findings to FILE as the baseline, and exit 0.",
        metavar="FILE",
    ),
    Flag(
        "verbose",
        ("--verbose", "-v"),
        "List every finding (text output collapses repeated info findings to one line per code).",
        "switch",
        default=False,
    ),
    Flag(
        "quiet",
        ("--quiet", "-q"),
        "Print only the findings that fail the check (errors; warnings too with --strict) and, when it "
        "fails, the summary: nothing on success, the exit code says it.",
        "switch",
        default=False,
    ),
    Flag(
        "watch",
        ("--watch",),
        "Validate again on every change of the files, showing the findings that appeared and those fixed.",
        "switch",
        default=False,
    ),
    Flag(
        "no_config",
        ("--no-config",),
        "Do not read .ingressctl.toml (found from the working directory upwards).",
        "switch",
        default=False,
    ),
    Flag(
        "require_services",
        ("--require-services",),
        "The input is complete: a Service, Secret or endpoints an Ingress needs but the input lacks "
        "is an error, not info (always on with --kubernetes).",
        "switch",
        default=False,
    ),
    Flag(
        "ingress_class",
        ("--ingress-class",),
        "Ingress class ingressctl serves (kubernetes.io/ingress.class).",
        metavar="NAME",
        default="ingressctl",
    ),
    Flag(
        "controller_name",
        ("--controller-name", "--controller-class"),
        "IngressClass spec.controller that ingressctl claims (k8s.io/ingress-nginx to take over from "
        "ingress-nginx; --controller-class is ingress-nginx's name for it).",
        metavar="NAME",
        default="ingressctl.io/ingress-controller",
    ),
    Flag(
        "gateway_controller_name",
        ("--gateway-controller-name",),
        "GatewayClass spec.controllerName that ingressctl claims (Gateway API objects in the input are "
        "always checked).",
        metavar="NAME",
        default="ingressctl.io/gateway-controller",
    ),
    Flag(
        "gateway_class",
        ("--gateway-class",),
        "Check only the Gateways of this GatewayClass (as serve --gateway-class).",
        metavar="NAME",
    ),
    Flag(
        "watch_ingress_without_class",
        ("--watch-ingress-without-class",),
        "true or false: serve Ingresses without any class (ingress-nginx's flag; default true, false "
        "with --controller-name k8s.io/ingress-nginx as in ingress-nginx).",
        metavar="BOOL",
    ),
    Flag(
        "ignore_snippets",
        ("--ignore-snippets",),
        "Routes with nginx snippets (configuration-snippet, server-snippet, ...) are served without "
        "them, a warning, instead of answering 503 (snippets are never executed either way).",
        "switch",
        default=False,
    ),
    Flag(
        "from_controller",
        ("--from",),
        "Report what carries over from another controller (ingress-nginx): per Ingress, each annotation "
        "supported, changed, lost or refused, and a summary (text or json). Implies --ingress-class "
        "nginx and --controller-name k8s.io/ingress-nginx unless given.",
        "choice",
        "CONTROLLER",
        None,
        ("ingress-nginx",),
    ),
    Flag(
        "allow_external_name_services",
        ("--allow-external-name-services",),
        "Proxy ExternalName Services (off: they are findings).",
        "switch",
        default=False,
    ),
    Flag(
        "output",
        ("--output", "-o"),
        "Write the report to FILE instead of stdout.",
        metavar="FILE",
    ),
    Flag("kubernetes", ("--kubernetes",), "", "switch", default=False),
    Flag("kubeconfig", ("--kubeconfig",), "", metavar="FILE"),
    Flag("context", ("--context",), "", metavar="NAME"),
    Flag("namespaces", ("--namespace", "-n"), "", "many", "NS", []),
    Flag("label_selector", ("--label-selector", "-l"), "", metavar="SEL"),
)

PATHS_HELP = "Manifest files or directories (YAML, multi-document); '-' reads stdin. Not with --kubernetes."


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    """Every flag of `validate`, as given (defaults as declared in FLAGS)."""

    paths: list[str] = field(default_factory=list)
    output_format: str = "text"
    strict: bool = False
    min_severity: str | None = None
    ignore: list[str] = field(default_factory=list)
    baseline: str | None = None
    write_baseline: str | None = None
    verbose: bool = False
    quiet: bool = False
    watch: bool = False
    no_config: bool = False
    require_services: bool = False
    ingress_class: str = "ingressctl"
    controller_name: str = "ingressctl.io/ingress-controller"
    gateway_controller_name: str = "ingressctl.io/gateway-controller"
    gateway_class: str | None = None
    watch_ingress_without_class: str | None = None
    ignore_snippets: bool = False
    from_controller: str | None = None
    allow_external_name_services: bool = False
    output: str | None = None
    kubernetes: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: list[str] = field(default_factory=list)
    label_selector: str | None = None


class _Refused(Exception):
    """argparse met something it would word worse than Typer: let Typer parse (and explain) it."""


def argument_parser() -> argparse.ArgumentParser:
    """The argparse parser of the lean start path (no help: `validate --help` is Typer's)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _Refused(message)

    def formatter(prog: str) -> argparse.HelpFormatter:
        # argparse builds one for every add_argument (a metavar check); given a width, it does not
        # import shutil (with lzma, bz2 and zlib) to ask the terminal. This parser never prints help.
        return argparse.HelpFormatter(prog, width=80)

    parser = Parser(prog="ingressctl validate", add_help=False, allow_abbrev=False, formatter_class=formatter)
    parser.add_argument("paths", nargs="*")
    for flag in FLAGS:
        if flag.kind == "many":
            parser.add_argument(*flag.names, dest=flag.field, action="append", default=[])
        elif flag.kind == "switch":
            parser.add_argument(*flag.names, dest=flag.field, action="store_true", default=False)
        elif flag.kind == "choice":
            # Typer reads these case-insensitively; so does this parser.
            parser.add_argument(
                *flag.names, dest=flag.field, type=str.lower, choices=flag.choices, default=flag.default
            )
        else:
            parser.add_argument(*flag.names, dest=flag.field, default=flag.default)
    return parser


def parse(argv: list[str]) -> ValidateOptions | None:
    """The options in `argv`, or None when Typer should handle it (help, completion, a usage error)."""
    if any(
        arg in ("-h", "--help") or arg.startswith(("--install-completion", "--show-completion"))
        for arg in argv
    ):
        return None
    if not any(arg.startswith("-") for arg in argv):
        # Paths only, the usual CI call: what argparse would answer (every flag at its FLAGS default,
        # tests/cli/test_validate_flags.py), without loading argparse, gettext and locale (issue 18).
        return ValidateOptions(paths=list(argv))
    try:
        # Intermixed: `validate a.yaml --format json b.yaml` reads both files, as Typer does.
        values = vars(argument_parser().parse_intermixed_args(argv))
    except _Refused:
        return None
    return ValidateOptions(**values)


def typer_command(run: Callable[[ValidateOptions], None]) -> Callable[..., None]:
    """A function whose signature Typer reads as the same flags; it calls run(options)."""
    import inspect

    import typer

    from ingressctl.cli import cluster

    shared_help = {
        "kubernetes": cluster.KUBERNETES_OPTION.help,
        "kubeconfig": cluster.KUBECONFIG_OPTION.help,
        "context": cluster.CONTEXT_OPTION.help,
        "namespaces": cluster.NAMESPACE_OPTION.help,
        "label_selector": cluster.LABEL_SELECTOR_OPTION.help,
    }

    def command(**values: Any) -> None:  # each flag's own type: ValidateOptions(**values) checks them
        values["paths"] = list(values["paths"] or [])
        values["namespaces"] = list(values["namespaces"] or [])
        values["ignore"] = list(values["ignore"] or [])
        for flag in FLAGS:
            if flag.kind == "choice" and values[flag.field] is not None:
                values[flag.field] = str(values[flag.field].value).lower()
        run(ValidateOptions(**values))

    parameters = [
        inspect.Parameter(
            "paths",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=typer.Argument(None, metavar="PATH", help=PATHS_HELP, show_default=False),
            annotation=list[str] | None,
        )
    ]
    for flag in FLAGS:
        help_text = flag.help or shared_help[flag.field] or ""
        if flag.kind == "switch":
            default: object = typer.Option(False, *flag.names, help=help_text)
            annotation: object = bool
        elif flag.kind == "many":
            default = typer.Option([], *flag.names, help=help_text, metavar=flag.metavar, show_default=False)
            annotation = list[str]
        elif flag.kind == "choice":
            # An enum Typer checks (case-insensitively); the metavar stays a word, the help names the choices.
            choices = _choices(flag.field, flag.choices)
            default = typer.Option(
                None if flag.default is None else choices(str(flag.default)),
                *flag.names,
                help=help_text,
                metavar=flag.metavar,
                case_sensitive=False,
                show_default=flag.default is not None,
            )
            annotation = choices | None
        else:
            default = typer.Option(
                flag.default,
                *flag.names,
                help=help_text,
                metavar=flag.metavar,
                show_default=flag.default is not None,
            )
            annotation = str | None
        parameters.append(
            inspect.Parameter(
                flag.field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = VALIDATE_HELP
    return command


def _choices(name: str, choices: tuple[str, ...]) -> type[enum.StrEnum]:
    import enum

    return enum.StrEnum(name, {choice.upper(): choice for choice in choices})  # type: ignore[return-value]


VALIDATE_HELP = """Check Ingress manifests (or, with --kubernetes, a cluster) the way the API server and the \
controller would read them.

Severities do not depend on what else the input holds: a Service, Secret or EndpointSlice an Ingress \
names but the input lacks is info, an error with --require-services (always with --kubernetes).

Exit codes: 0 clean (info findings only), 1 errors (or warnings with --strict), 2 no input, unreadable \
input, an unreachable or refusing API server, or bad usage.
"""
