"""`ingressctl acme inspect|export|check`: read acme.json files of every Traefik layout."""

from __future__ import annotations

import datetime
import json
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from cryptography.x509.oid import NameOID
from rich.console import Console
from rich.table import Table

from ingressctl.acme.storage import AcmeFile, CertRecord, read_acme_file
from ingressctl.model import InputError, UsageError
from ingressctl.tls.inspect import ca_kind, dns_names, key_matches, parse_certificates

acme = typer.Typer(
    help="Inspect, export and monitor acme.json files (Traefik v1, v1.7, v2/v3).", no_args_is_help=True
)


@dataclass(slots=True)
class CertRow:
    resolver: str
    main: str
    sans: list[str]
    not_after: datetime.datetime | None = None
    days_left: float | None = None
    issuer: str = ""
    ca: str = ""
    key_ok: bool | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "resolver": self.resolver,
            "main": self.main,
            "sans": self.sans,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "days_left": round(self.days_left, 2) if self.days_left is not None else None,
            "issuer": self.issuer,
            "ca": self.ca,
            "staging": self.ca in ("staging", "pebble"),
            "key_matches": self.key_ok,
            "error": self.error,
        }


@dataclass(slots=True)
class Findings:
    file: AcmeFile
    mode: int
    rows: list[CertRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _row(resolver: str, rec: CertRecord, now: datetime.datetime) -> CertRow:
    row = CertRow(resolver, rec.main, list(rec.sans))
    try:
        chain = parse_certificates(rec.certificate, rec.main)
    except InputError as exc:
        row.error = f"certificate unreadable: {exc}"
        return row
    leaf = chain[0]
    row.not_after = leaf.not_valid_after_utc
    row.days_left = (leaf.not_valid_after_utc - now).total_seconds() / 86400
    cn = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    row.issuer = str(cn[0].value) if cn else leaf.issuer.rfc4514_string()
    row.ca = ca_kind(chain)
    row.key_ok = key_matches(leaf, rec.key) if rec.key else False
    names = set(dns_names(leaf))
    missing = [d for d in rec.domains if d not in names]
    if missing:
        row.error = f"the certificate does not cover {', '.join(missing)}"
    return row


def analyse(path: Path, warn_days: float, now: datetime.datetime | None = None) -> Findings:
    now = now or datetime.datetime.now(datetime.UTC)
    parsed = read_acme_file(path)
    findings = Findings(parsed, stat.S_IMODE(path.stat().st_mode))
    if findings.mode & 0o077:
        findings.warnings.append(
            f"file mode {findings.mode:03o} is looser than 600: it holds private keys (Traefik refuses it); "
            f"run chmod 600 {path}"
        )
    findings.warnings += [f"unreadable entry: {p}" for p in parsed.problems]
    for res in parsed.resolvers:
        seen: dict[tuple[str, ...], str] = {}
        for rec in res.certificates:
            row = _row(res.name, rec, now)
            findings.rows.append(row)
            where = f"{res.name}: {rec.main}"
            key = tuple(sorted(rec.domains))
            if key in seen:
                findings.warnings.append(f"{where}: duplicate certificate for the same names")
            seen[key] = rec.main
            if row.error:
                findings.warnings.append(f"{where}: {row.error}")
            if row.key_ok is False and not row.error.startswith("certificate unreadable"):
                findings.warnings.append(f"{where}: the private key does not match the certificate")
            if row.days_left is not None:
                if row.days_left < 0:
                    findings.warnings.append(f"{where}: expired {-row.days_left:.1f} days ago")
                elif row.days_left < warn_days:
                    findings.warnings.append(f"{where}: expires in {row.days_left:.1f} days")
            if row.ca in ("staging", "pebble"):
                findings.warnings.append(
                    f"{where}: issued by a test CA ({row.ca}); browsers will not trust it"
                )
    return findings


def _account_json(file: AcmeFile) -> list[dict[str, Any]]:
    out = []
    for res in file.resolvers:
        acct = res.account
        out.append(
            {
                "resolver": res.name,
                "email": acct.email if acct else "",
                "registration_uri": acct.uri if acct else "",
                "ca": (acct.ca_server or _origin(acct.uri)) if acct else "",
                "certificates": len(res.certificates),
            }
        )
    return out


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


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
    findings = analyse(file, warn_days)
    if output == "json":
        doc = {
            "schema": 1,
            "file": str(file),
            "layout": findings.file.layout,
            "mode": f"{findings.mode:03o}",
            "accounts": _account_json(findings.file),
            "certificates": [r.to_json() for r in findings.rows],
            "warnings": findings.warnings,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{file}: {findings.file.layout} layout, mode {findings.mode:03o}")
    for acct in _account_json(findings.file):
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
    out.print(table)
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
) -> None:
    """Write one certificate from acme.json as PEM files."""
    from ingressctl.acme.oneshot import write_pem_files

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
    for path in write_pem_files(out, rec.certificate, rec.key):
        typer.echo(path)


@acme.command("check")
def check(
    file: Path = typer.Argument(..., help="acme.json"),
    fail_under: float = typer.Option(
        14.0, "--fail-under", help="Exit 1 if a certificate has fewer days left."
    ),
) -> None:
    """For monitoring: exit 1 when a certificate expires within --fail-under days or is broken."""
    _require(file)
    findings = analyse(file, fail_under)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    bad = [r for r in findings.rows if r.error or r.days_left is None or r.days_left < fail_under]
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
