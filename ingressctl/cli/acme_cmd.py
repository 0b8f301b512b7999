"""`ingressctl acme inspect|export|check`: read acme.json files of every Traefik layout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ingressctl.cli.tables import print_whole
from ingressctl.model import InputError, UsageError

# The readers (cryptography) are imported inside the commands: every other command starts faster.

acme = typer.Typer(
    help="Inspect, export and monitor acme.json files (Traefik v1, v1.7, v2/v3).", no_args_is_help=True
)


def _require(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")


@acme.command("inspect")
def inspect(
    file: Path = typer.Argument(..., help="acme.json written by Traefik (any version) or ingressctl."),
    output: str = typer.Option("text", "--format", help="text or json."),
    warn_days: float = typer.Option(30.0, "--warn-days", help="Warn about certificates expiring sooner."),
) -> None:
    """Show the account, the certificates and what is wrong with them."""
    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")
    _require(file)
    from ingressctl.acme.report import account_summary, analyse

    findings = analyse(file, warn_days)
    if output == "json":
        doc = {
            "schema": 1,
            "file": str(file),
            "layout": findings.file.layout,
            "mode": f"{findings.mode:03o}",
            "accounts": account_summary(findings.file),
            "certificates": [r.to_json() for r in findings.rows],
            "warnings": findings.warnings,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{file}: {findings.file.layout} layout, mode {findings.mode:03o}")
    for acct in account_summary(findings.file):
        out.print(
            f"resolver {acct['resolver']}: account {acct['email'] or '(no e-mail)'} "
            f"{acct['registration_uri'] or '(not registered)'} at {acct['ca'] or 'unknown CA'}"
        )
    table = Table("resolver", "domain", "SANs", "not after", "days left", "issuer", "staging")
    for row in findings.rows:
        table.add_row(
            row.resolver,
            row.main,
            ", ".join(row.sans),
            f"{row.not_after:%Y-%m-%d %H:%M}" if row.not_after else "?",
            f"{row.days_left:.1f}" if row.days_left is not None else "?",
            row.issuer or row.error,
            "yes" if row.ca in ("staging", "pebble") else "no",
        )
    print_whole(out, table)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in findings.warnings:
        err.print(f"[yellow]warning:[/] {warning}")


@acme.command("export")
def export(
    file: Path = typer.Argument(..., help="acme.json"),
    domain: str = typer.Option(..., "--domain", help="Main domain or SAN of the certificate."),
    out: Path = typer.Option(
        ..., "--out", help="Directory for cert.pem, chain.pem, fullchain.pem, privkey.pem."
    ),
    resolver: str = typer.Option("", "--resolver", help="Only this resolver (v2/v3 files)."),
    output: str = typer.Option(
        "text", "--format", metavar="FORMAT", help="text (the files written, one a line) or json."
    ),
) -> None:
    """Write one certificate from acme.json as PEM files."""
    from ingressctl.acme.pemfiles import write_pem_files
    from ingressctl.acme.storage import read_acme_file

    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")
    _require(file)
    parsed = read_acme_file(file)
    matches = [
        (res.name, rec)
        for res in parsed.resolvers
        if not resolver or res.name == resolver
        for rec in res.certificates
        if domain in rec.domains
    ]
    if not matches:
        raise UsageError(
            f"{file}: no certificate for {domain!r}" + (f" in resolver {resolver!r}" if resolver else "")
        )
    exact = [m for m in matches if m[1].main == domain]
    name, rec = (exact or matches)[0]
    if not rec.certificate or not rec.key:
        raise InputError(
            f"{file}: the certificate for {domain!r} (resolver {name}) has no certificate or key"
        )
    written = write_pem_files(out, rec.certificate, rec.key)
    if output == "json":
        doc = {"schema": 1, "resolver": name, "main": rec.main, "written": [str(p) for p in written]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for path in written:
        typer.echo(path)


@acme.command("check")
def check(
    file: Path = typer.Argument(..., help="acme.json"),
    fail_under: float = typer.Option(
        14.0, "--fail-under", metavar="DAYS", help="Exit 1 if a certificate has fewer days left."
    ),
    output: str = typer.Option("text", "--format", metavar="FORMAT", help="text or json."),
) -> None:
    """For monitoring: exit 1 when a certificate expires within --fail-under days or is broken."""
    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")
    _require(file)
    from ingressctl.acme.report import analyse

    findings = analyse(file, fail_under)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    bad = [r for r in findings.rows if r.error or r.days_left is None or r.days_left < fail_under]
    if output == "json":
        doc = {
            "schema": 1,
            "file": str(file),
            "fail_under_days": fail_under,
            "certificates": [{**r.to_json(), "ok": r not in bad} for r in findings.rows],
            "unreadable": list(findings.file.problems),
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        if bad or findings.file.problems:
            raise SystemExit(1)
        return
    for row in findings.rows:
        status = "FAIL" if row in bad else "ok"
        days = f"{row.days_left:.1f}" if row.days_left is not None else "?"
        typer.echo(
            f"{status}\t{row.resolver}\t{row.main}\t{days} days left"
            + (f"\t{row.error}" if row.error else "")
        )
    if findings.file.problems:
        for problem in findings.file.problems:
            err.print(f"[red]unreadable:[/] {problem}")
    if bad or findings.file.problems:
        err.print(
            f"[red]{len(bad) + len(findings.file.problems)} problem(s)[/] (threshold {fail_under} days)"
        )
        raise SystemExit(1)  # typer.Exit is swallowed by app(standalone_mode=False)
    err.print(f"[green]all {len(findings.rows)} certificate(s) have at least {fail_under} days left[/]")


def register(app: typer.Typer) -> None:
    """Add the command group to the app."""
    app.add_typer(acme, name="acme")
