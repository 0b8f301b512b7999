"""`ingressctl migrate`: rewrite v1beta1 Ingresses into networking.k8s.io/v1, keeping comments and order.

Exit codes: 0 migrated (or nothing needed migrating), 1 a document could not be parsed and was
left as it was, 2 unreadable input or a bad combination of flags.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING

import typer

from ingressctl.manifests.loader import STDIN, read_inputs
from ingressctl.manifests.migrate import Migration, migrate_text
from ingressctl.model import InputError, UsageError

if TYPE_CHECKING:
    from ingressctl.cli.migrate_gateway import GatewayFlags


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("migrate")(migrate)


def migrate(
    paths: list[str] = typer.Argument(
        ..., help="Manifest files or directories (*.yaml, *.yml, *.json); - for stdin."
    ),
    in_place: bool = typer.Option(
        False, "--in-place", "-i", help="Rewrite the files instead of printing the result."
    ),
    diff: bool = typer.Option(
        False, "--diff", help="Print a unified diff of the changes instead of the YAML."
    ),
    output: str = typer.Option(
        "text",
        "--format",
        metavar="FORMAT",
        help="text, or json: each input with its changes, problems and its result (text, diff or written).",
    ),
    from_controller: str | None = typer.Option(
        None,
        "--from",
        metavar="CONTROLLER",
        help="ingress-nginx: also move class nginx to --ingress-class and comment every ingress-nginx "
        "annotation ingressctl does not carry over as it is (REFUSED, lost, changes).",
    ),
    ingress_class: str = typer.Option(
        "ingressctl",
        "--ingress-class",
        metavar="NAME",
        help="The class ingress-nginx's Ingresses move to (--from).",
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        metavar="API",
        help="gateway-api: write the Ingresses as a Gateway and HTTPRoutes (one YAML stream) instead.",
    ),
    gateway_name: str = typer.Option(
        "ingressctl", "--gateway-name", metavar="NAME", help="--to: the Gateway."
    ),
    gateway_namespace: str = typer.Option(
        "default", "--gateway-namespace", metavar="NS", help="--to: the Gateway's namespace."
    ),
    gateway_class: str = typer.Option(
        "ingressctl", "--gateway-class", metavar="NAME", help="--to: the Gateway's gatewayClassName."
    ),
    with_gateway_class: bool = typer.Option(
        False, "--with-gateway-class", help="--to: also write the GatewayClass (controller ingressctl.io)."
    ),
    entrypoints: list[str] = typer.Option(
        [],
        "--entrypoint",
        metavar="NAME=ADDR[,tls]",
        help="--to: an entrypoint, one listener each (repeatable; default http=:80 and https=:443,tls).",
    ),
    output_file: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="--to: write the YAML to FILE (- for stdout)."
    ),
    allow_unprotected: bool = typer.Option(
        False,
        "--allow-unprotected",
        help="--to: write routes whose protections (auth, allow-lists, limits, ...) cannot be carried; "
        "without it nothing is written and migrate exits 1.",
    ),
) -> None:
    """Rewrite extensions/v1beta1 and networking.k8s.io/v1beta1 Ingresses into networking.k8s.io/v1.

    serviceName/servicePort become service.name and port.number (or port.name), backend becomes
    defaultBackend, and paths without pathType get ImplementationSpecific, which keeps the v1beta1
    matching exactly. Comments, key order and every other document are kept as they are.
    """
    if to is not None:
        # Imported here: the Gateway API converter loads the annotation parsers, which the
        # v1beta1 rewrite never needs.
        from ingressctl.cli.migrate_gateway import GatewayFlags

        _migrate_to(
            to,
            paths,
            in_place=in_place,
            diff=diff,
            output=output,
            flags=GatewayFlags(
                output_file,
                gateway_name,
                gateway_namespace,
                gateway_class,
                with_gateway_class,
                tuple(entrypoints),
                allow_unprotected,
            ),
        )
        return
    if output_file is not None or entrypoints or allow_unprotected or with_gateway_class:
        raise UsageError("--output, --entrypoint, --allow-unprotected and --with-gateway-class go with --to")
    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")
    if in_place and STDIN in paths:
        raise UsageError("--in-place cannot rewrite stdin; drop --in-place or name the files")
    inputs = read_inputs(paths)
    if from_controller is not None and from_controller != "ingress-nginx":
        raise UsageError(f"--from {from_controller!r}: only ingress-nginx is supported")
    if from_controller is not None:
        from ingressctl.checks.migrate_nginx import migrate_nginx_text

        results = [(name, text, migrate_nginx_text(text, name, ingress_class)) for name, text in inputs]
    else:
        results = [(name, text, migrate_text(text, name)) for name, text in inputs]
    changed = [item for item in results if item[2].modified]
    if in_place:
        for name, _, migration in changed:
            write_atomically(name, migration.text)
    if output == "json":
        sys.stdout.write(json.dumps(_json_report(results, in_place=in_place, diff=diff), indent=2) + "\n")
    elif diff:
        for name, before, migration in changed:
            sys.stdout.write(_unified_diff(name, before, migration.text))
    elif not in_place:
        _print_all(results)
    _report(results, in_place=in_place)
    if any(migration.problems for _, _, migration in results):
        # SystemExit, not typer.Exit: app(standalone_mode=False) turns typer.Exit into a return value.
        raise SystemExit(1)


def _migrate_to(
    to: str, paths: list[str], *, in_place: bool, diff: bool, output: str, flags: GatewayFlags
) -> None:
    from ingressctl.cli.migrate_gateway import run_gateway_migration

    if to != "gateway-api":
        raise UsageError(f"--to {to!r}: only gateway-api is supported")
    if in_place or diff:
        raise UsageError("--to gateway-api writes one new YAML stream: drop --in-place and --diff")
    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")
    flags = dataclasses.replace(flags, output_format=output)
    code = run_gateway_migration(paths, flags)
    if code:
        # SystemExit, not typer.Exit: app(standalone_mode=False) turns typer.Exit into a return value.
        raise SystemExit(code)


def _print_all(results: list[tuple[str, str, Migration]]) -> None:
    several = len(results) > 1
    for index, (name, _, migration) in enumerate(results):
        text = migration.text
        if several:
            if index and not text.startswith("---"):
                sys.stdout.write("---\n")
            sys.stdout.write(f"# Source: {name}\n")
        sys.stdout.write(text)
        if text and not text.endswith("\n"):
            sys.stdout.write("\n")


def _json_report(
    results: list[tuple[str, str, Migration]], *, in_place: bool, diff: bool
) -> dict[str, object]:
    """`--format json`: schema 1, one entry per input in input order, the same keys for every input.

    The result of an input is `written` (--in-place: the file was rewritten), `diff` (--diff: a
    unified diff, empty when nothing changed) or `text` (the migrated text, the input's when nothing changed).
    """
    files: list[dict[str, object]] = []
    for name, before, migration in results:
        entry: dict[str, object] = {
            "file": name,
            "modified": migration.modified,
            "changes": list(migration.changed),
            "problems": list(migration.problems),
        }
        if in_place:
            entry["written"] = migration.modified
        elif diff:
            entry["diff"] = _unified_diff(name, before, migration.text) if migration.modified else ""
        else:
            entry["text"] = migration.text
        files.append(entry)
    return {
        "schema": 1,
        "files": files,
        "migrated": sum(len(migration.changed) for _, _, migration in results),
        "problems": sum(len(migration.problems) for _, _, migration in results),
    }


def _unified_diff(name: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write_atomically(path: str, text: str, new_mode: int | None = None) -> None:
    """Replace the file in one step, keeping its permissions: a crash never leaves half a manifest.

    A symbolic link stays a link: the file it points to is the one replaced. `new_mode`: the file
    may be new, and gets these permissions (without it, a missing file is an error).
    """
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    try:
        new = new_mode is not None and not os.path.exists(path)
        mode = new_mode if new_mode is not None and new else os.stat(path).st_mode & 0o7777
        fd, temporary = tempfile.mkstemp(prefix=".ingressctl-migrate-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise InputError(f"{path}: cannot be rewritten ({exc.strerror or exc})") from exc


def _report(results: list[tuple[str, str, Migration]], *, in_place: bool) -> None:
    changes = [line for _, _, migration in results for line in migration.changed]
    for line in changes:
        typer.echo(f"{'migrated' if in_place else 'migrates'} {line}", err=True)
    for _, _, migration in results:
        for problem in migration.problems:
            typer.echo(f"warning: {problem}", err=True)
    if not changes:
        typer.echo(
            "nothing to migrate: no extensions/v1beta1 or networking.k8s.io/v1beta1 Ingress in the input",
            err=True,
        )
