"""The `ingressctl` command: one Typer app, one module per command group.

Exit codes are mapped in one place, ingressctl.cli.failure (this app and the lean start paths use it):
  0 clean / success, 1 findings (or a check that failed), 2 usage, configuration or unreadable input,
  3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape
from typer._click.exceptions import ClickException
from typer._click.exceptions import UsageError as ClickUsageError

from ingressctl.cli import acme_cmd, certs_cmd, migrate_cmd, routes_cmd, serve_cmd, validate_cmd, version_cmd
from ingressctl.cli.failure import exit_code_for
from ingressctl.cli.help_style import use_word_metavars
from ingressctl.model import IngressctlError

app = typer.Typer(
    name="ingressctl",
    help="Kubernetes ingress controller and reverse proxy with automatic HTTPS, and the CI tool around it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Help re-flows to the terminal, up to 120 columns (80 on an 80-column terminal).
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(version_cmd.render(version_cmd.VersionFormat.TEXT))
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version (as `ingressctl version`) and exit.",
    ),
) -> None:
    """Kubernetes ingress controller and reverse proxy with automatic HTTPS."""


for module in (validate_cmd, routes_cmd, migrate_cmd, serve_cmd, certs_cmd, acme_cmd, version_cmd):
    module.register(app)
use_word_metavars()


def main() -> None:
    """Console-script entry point: run the app, turning expected errors into one line and an exit code."""
    err = Console(stderr=True)
    try:
        code = app(standalone_mode=False, prog_name="ingressctl")
    except IngressctlError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exit_code_for(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(exit_code_for(KeyboardInterrupt()))
    except KeyboardInterrupt as exc:
        sys.exit(exit_code_for(exc))
    except ClickException as exc:  # usage errors: unknown option, bad choice, missing argument
        exc.show()
        sys.exit(2 if isinstance(exc, ClickUsageError) else exc.exit_code)
    except Exception as exc:
        # A bug, not bad input: one line by default, the traceback on request.
        if os.environ.get("INGRESSCTL_DEBUG"):
            raise
        err.print(
            f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} "
            "(set INGRESSCTL_DEBUG=1 for the traceback, and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(exit_code_for(exc))
    # With standalone_mode=False click returns the exit code of typer.Exit instead of exiting.
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
