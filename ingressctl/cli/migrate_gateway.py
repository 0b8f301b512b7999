"""`ingressctl migrate --to gateway-api`: the Ingresses of PATHs as one Gateway API YAML stream.

Exit codes: 0 written; 1 written but incomplete (a named port without its Service, a redirect with
no HTTPS listener, ...), or NOT written because a protection (auth, allow-lists, client
certificates, rate limits, snippets, ...) cannot be carried and `--allow-unprotected` was not given:
those routes would be served open, so nothing reaches `kubectl apply`; 2 unreadable input or bad
flags. The YAML goes to stdout or `--output FILE`; the report to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import typer

from ingressctl.checks.to_gateway import (
    EntrypointSpec,
    GatewayMigration,
    GatewayOptions,
    NoteKind,
    migrate_to_gateway,
    render_stream,
)
from ingressctl.checks.to_gateway.convert import DEFAULT_ENTRYPOINTS
from ingressctl.checks.to_gateway.schema import is_dns_name
from ingressctl.model import Severity, UsageError

_WARNINGS = (NoteKind.CHANGED, NoteKind.LOST)
_ERRORS = (NoteKind.UNPROTECTED, NoteKind.PROBLEM)


@dataclass(frozen=True, slots=True)
class GatewayFlags:
    output: str | None
    gateway_name: str
    gateway_namespace: str
    gateway_class: str
    with_gateway_class: bool
    entrypoints: tuple[str, ...]
    allow_unprotected: bool
    output_format: str = "text"  # text: the YAML; json: the objects and the notes (schema 1)


def run_gateway_migration(paths: list[str], flags: GatewayFlags) -> int:
    """Load PATHs (the one manifest loader), convert, write, report; the exit code."""
    from ingressctl.manifests import load_paths

    options = _options(flags)
    loaded = load_paths(paths, stdin=sys.stdin if "-" in paths else None)
    # An object the loader could not read is not in the snapshot: it would vanish from the migration.
    unread = [d for d in loaded.diagnostics if d.severity is Severity.ERROR]
    for diagnostic in unread:
        where = f"{diagnostic.location}: " if diagnostic.location is not None else ""
        typer.echo(f"error: {where}{diagnostic.message} (not migrated; {diagnostic.hint})", err=True)
    if not loaded.snapshot.ingresses:
        if flags.output_format == "json":
            _write(json.dumps(json_report(GatewayMigration(), refused=False), indent=2) + "\n", flags.output)
        typer.echo("nothing to migrate: no Ingress in the input", err=True)
        return 1 if unread else 0
    migration = migrate_to_gateway(loaded.snapshot, options)
    refused = bool(migration.unprotected) and not flags.allow_unprotected
    if flags.output_format == "json":
        _write(json.dumps(json_report(migration, refused=refused), indent=2) + "\n", flags.output)
    elif not refused:
        _write(render_stream(migration.documents), flags.output)
    _report(migration, refused=refused, allow_unprotected=flags.allow_unprotected)
    return 1 if refused or migration.problems or unread else 0


def json_report(migration: GatewayMigration, *, refused: bool) -> dict[str, object]:
    """`--format json`: schema 1. `objects` is empty when nothing may be written (`written` false)."""
    return {
        "schema": 1,
        "to": "gateway-api",
        "written": not refused,
        "ingresses": migration.ingresses,
        "objects": [] if refused else [d.document for d in migration.documents],
        "notes": [
            {"kind": n.kind.value, "ingress": n.subject, "key": n.key, "text": n.text, "where": n.where}
            for n in migration.notes
        ],
        "counts": {kind.value: sum(1 for n in migration.notes if n.kind is kind) for kind in NoteKind},
    }


def _options(flags: GatewayFlags) -> GatewayOptions:
    for flag, value in (
        ("--gateway-name", flags.gateway_name),
        ("--gateway-namespace", flags.gateway_namespace),
        ("--gateway-class", flags.gateway_class),
    ):
        if not is_dns_name(value, 63 if flag == "--gateway-namespace" else 253):
            raise UsageError(f"{flag} {value!r}: write a DNS-1123 name (lower case, digits, '-', '.')")
    entrypoints = tuple(_entrypoint(text) for text in flags.entrypoints) or DEFAULT_ENTRYPOINTS
    names = [e.name for e in entrypoints]
    if len(set(names)) != len(names):
        raise UsageError("--entrypoint: each name once")
    return GatewayOptions(
        name=flags.gateway_name,
        namespace=flags.gateway_namespace,
        gateway_class=flags.gateway_class,
        with_gateway_class=flags.with_gateway_class,
        entrypoints=entrypoints,
    )


def _entrypoint(text: str) -> EntrypointSpec:
    from ingressctl.config.entrypoint_flags import FlagError, parse_entrypoint_flag, split_entrypoint_value

    try:
        name, spec = split_entrypoint_value(text)
        flag = parse_entrypoint_flag(name, spec)
    except (FlagError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    port = flag.address.rsplit(":", 1)[-1]
    if not port.isdigit():
        raise UsageError(f"--entrypoint {text}: the address needs a port, like web=:80")
    if not is_dns_name(name.lower(), 63):
        raise UsageError(f"--entrypoint {text}: the name becomes a listener name: use a DNS-1123 label")
    return EntrypointSpec(name, int(port), flag.tls)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from ingressctl.cli.migrate_cmd import write_atomically

    write_atomically(output, text, new_mode=0o644)


def _report(migration: GatewayMigration, *, refused: bool, allow_unprotected: bool) -> None:
    routes = [d.document for d in migration.documents if d.document.get("kind") == "HTTPRoute"]
    for note in migration.notes:
        if note.kind in _WARNINGS:
            typer.echo(f"warning: {note.line()}", err=True)
    for note in migration.notes:
        if note.kind in _ERRORS:
            allowed = note.kind is NoteKind.UNPROTECTED and allow_unprotected
            typer.echo(f"{'warning' if allowed else 'error'}: {note.line()}", err=True)
    counts = {kind: sum(1 for n in migration.notes if n.kind is kind) for kind in (*_WARNINGS, *_ERRORS)}
    summary = ", ".join(f"{count} {kind.value}" for kind, count in counts.items() if count)
    typer.echo(
        f"{migration.ingresses} Ingress(es) -> 1 Gateway, {len(routes)} HTTPRoute(s)"
        + (f"; annotations and paths: {summary}" if summary else ""),
        err=True,
    )
    if refused:
        typer.echo(
            f"error: nothing written: {len(migration.unprotected)} protection(s) cannot be carried to the "
            "Gateway API and their routes would be served OPEN. Add the equivalent policies of your Gateway "
            "implementation, then re-run with --allow-unprotected to write the routes (each names what "
            "it lacks in a comment) and apply them only together with those policies.",
            err=True,
        )
    elif migration.unprotected and allow_unprotected:
        typer.echo(
            "warning: written with --allow-unprotected: do not apply the routes marked "
            "'NOT MIGRATED, PROTECTION' before adding the equivalent policies",
            err=True,
        )
