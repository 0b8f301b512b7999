"""`ingressctl certs request|revoke|inspect`: one-shot ACME issuance and certificate inspection."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from ingressctl.acme.ca import resolve_ca_server
from ingressctl.acme.storage import read_acme_file
from ingressctl.cli.tables import print_whole
from ingressctl.model import InputError, UsageError

# cryptography and the ACME stack are imported inside the commands: every other command starts faster.
if TYPE_CHECKING:
    from cryptography import x509

    from ingressctl.tls.inspect import CertificateReport

certs = typer.Typer(help="Obtain, revoke and inspect certificates.", no_args_is_help=True)

CHALLENGE_TYPES = ("http-01", "tls-alpn-01")
REVOCATION_REASONS = {
    "unspecified": 0,
    "keyCompromise": 1,
    "superseded": 4,
    "cessationOfOperation": 5,
}


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@certs.command("request")
def request(
    domains: list[str] = typer.Argument(..., help="Names for the certificate; the first is the subject."),
    email: str = typer.Option("", "--email", help="Contact address for the ACME account."),
    ca_server: str = typer.Option(
        "letsencrypt", "--ca-server", help="letsencrypt, letsencrypt-staging, or an ACME directory URL."
    ),
    ca_bundle: str = typer.Option("", "--ca-bundle", help="PEM file trusted for the CA's API (private CAs)."),
    challenge: str = typer.Option("http-01", "--challenge", help="http-01 or tls-alpn-01."),
    listen: str = typer.Option("", "--listen", help="Responder address, default :80 (http-01) or :443."),
    key_type: str = typer.Option("ec256", "--key-type", help="ec256, ec384, rsa2048 or rsa4096."),
    eab_kid: str = typer.Option("", "--eab-kid", help="External account binding key id."),
    eab_hmac: str = typer.Option("", "--eab-hmac", help="External account binding HMAC key (base64url)."),
    storage: Path | None = typer.Option(
        None, "--storage", help="acme.json to store into (Traefik v2 layout)."
    ),
    resolver: str = typer.Option("default", "--resolver", help="Resolver name inside acme.json."),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="Write cert/chain/fullchain/privkey PEM files."
    ),
    timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait for the CA."),
    output: str = typer.Option(
        "text", "--format", metavar="FORMAT", help="text (the files written, one a line) or json."
    ),
) -> None:
    """Obtain a certificate with a standalone challenge responder."""
    _check_format(output)
    # Imported here: the ACME stack is heavy and every other command starts faster without it.
    from ingressctl.acme.keys import KEY_TYPES
    from ingressctl.acme.oneshot import RequestOptions, request_certificate
    from ingressctl.acme.responder import parse_listen

    if challenge not in CHALLENGE_TYPES:
        raise UsageError(f"--challenge {challenge!r}: use one of {', '.join(CHALLENGE_TYPES)}")
    if key_type.lower() not in KEY_TYPES:
        raise UsageError(f"--key-type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    if bool(eab_kid) != bool(eab_hmac):
        raise UsageError("external account binding needs both --eab-kid and --eab-hmac")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise InputError(f"--ca-bundle {ca_bundle}: no such file")
    default_port = 80 if challenge == "http-01" else 443
    host, port = parse_listen(listen or f":{default_port}", default_port)
    opts = RequestOptions(
        domains=domains,
        ca_url=resolve_ca_server(ca_server),
        email=email,
        ca_bundle=ca_bundle,
        challenge=challenge,
        listen_host=host,
        listen_port=port,
        key_type=key_type.lower(),
        eab_kid=eab_kid,
        eab_hmac=eab_hmac,
        storage=storage,
        resolver=resolver,
        out_dir=out_dir,
        timeout=timeout,
    )
    err = _err()
    with err.status("requesting the certificate…") as status:

        def progress(message: str) -> None:
            status.update(message)
            err.print(f"[dim]·[/] {message}")

        result = asyncio.run(request_certificate(opts, progress))
    acct = "reused account" if result.account_reused else "new account"
    err.print(
        f"[green]✓[/] certificate for {', '.join(result.domains)} obtained in {result.seconds:.2f}s ({acct} "
        f"{result.account_uri})"
    )
    if output == "json":
        doc = {
            "schema": 1,
            "domains": list(result.domains),
            "account": {"uri": result.account_uri, "reused": result.account_reused},
            **_certificate_facts(result.fullchain_pem),
            "seconds": round(result.seconds, 3),
            "written": list(result.written),
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for path in result.written:
        typer.echo(path)


def _check_format(output: str) -> None:
    if output not in ("text", "json"):
        raise UsageError(f"--format {output!r}: use text or json")


def _certificate_facts(pem: bytes) -> dict[str, str]:
    """Serial (hex) and expiry of the first certificate of a PEM chain, for the JSON outputs."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError):
        return {}
    return {
        "serial": f"{cert.serial_number:x}",
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@certs.command("revoke")
def revoke(
    cert_file: Path | None = typer.Argument(
        None, metavar="CERT_FILE", help="PEM certificate to revoke (or use --storage and --domain)."
    ),
    key: Path | None = typer.Option(
        None,
        "--key",
        metavar="FILE",
        help="The certificate's private key, which signs the request (else the account in --storage).",
    ),
    storage: Path | None = typer.Option(
        None, "--storage", metavar="FILE", help="acme.json holding the account and the certificate."
    ),
    resolver: str = typer.Option(
        "default", "--resolver", metavar="NAME", help="Resolver name inside acme.json."
    ),
    domain: str = typer.Option(
        "", "--domain", metavar="DOMAIN", help="Main domain of the certificate in --storage."
    ),
    ca_server: str = typer.Option(
        "letsencrypt",
        "--ca-server",
        metavar="URL",
        help="letsencrypt, letsencrypt-staging, or an ACME directory URL: the CA that issued it.",
    ),
    ca_bundle: str = typer.Option(
        "", "--ca-bundle", metavar="FILE", help="PEM file trusted for the CA's API (private CAs)."
    ),
    reason: str = typer.Option(
        "unspecified",
        "--reason",
        metavar="REASON",
        help="Why (RFC 5280 reason): " + ", ".join(REVOCATION_REASONS) + ".",
    ),
    output: str = typer.Option(
        "text", "--format", metavar="FORMAT", help="text or json (what was revoked, on stdout)."
    ),
) -> None:
    """Revoke a certificate at the CA that issued it."""
    from ingressctl.acme.oneshot import revoke_certificate

    _check_format(output)
    if reason not in REVOCATION_REASONS:
        raise UsageError(f"--reason {reason!r}: use one of {', '.join(REVOCATION_REASONS)}")
    ca_url = resolve_ca_server(ca_server)
    account = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = _read(key) if key else None
    if storage is not None:
        res = read_acme_file(storage).resolver(resolver)
        if res is None:
            raise UsageError(f"{storage}: no resolver {resolver!r}")
        account = res.account
        if domain:
            rec = next((c for c in res.certificates if c.main == domain or domain in c.sans), None)
            if rec is None:
                raise UsageError(f"{storage}: no certificate for {domain!r} in resolver {resolver!r}")
            cert_pem = rec.certificate
    if cert_file is not None:
        cert_pem = _read(cert_file)
    if cert_pem is None:
        raise UsageError("name the certificate: a PEM file, or --storage with --domain")
    revoke_certificate(
        cert_pem,
        ca_url=ca_url,
        ca_bundle=ca_bundle,
        cert_key_pem=key_pem,
        account=account,
        reason=REVOCATION_REASONS[reason],
    )
    if output == "json":
        doc = {
            "schema": 1,
            "revoked": True,
            **_certificate_facts(cert_pem),
            "reason": reason,
            "reason_code": REVOCATION_REASONS[reason],
            "ca_server": ca_url,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    _err().print("[green]✓[/] certificate revoked")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _reports_for(
    target: str, servername: str, trust: list[x509.Certificate] | None, timeout: float
) -> list[CertificateReport]:
    from ingressctl.tls.inspect import describe, fetch_chain, parse_certificates

    path_part, _, fragment = target.partition("#")
    path = Path(path_part)
    if path.exists():
        data = _read(path)
        if data.lstrip().startswith(b"{") or path.suffix == ".json":
            acme_file = read_acme_file(path)
            reports = []
            for res in acme_file.resolvers:
                for rec in res.certificates:
                    if fragment and fragment != rec.main and fragment not in rec.sans:
                        continue
                    if not rec.certificate:
                        continue
                    src = f"{path}#{rec.main}" + (
                        f" (resolver {res.name})" if len(acme_file.resolvers) > 1 else ""
                    )
                    chain = parse_certificates(rec.certificate, src)
                    reports.append(describe(chain, src, trust=trust, server_name=servername or None))
            if fragment and not reports:
                raise InputError(f"{path}: no certificate for {fragment!r}")
            return reports
        return [
            describe(
                parse_certificates(data, str(path)), str(path), trust=trust, server_name=servername or None
            )
        ]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"{target}: no such file, and not a host:port")
    host = host.strip("[]")
    name = servername or host
    chain = fetch_chain(host, int(port), name, timeout)
    return [describe(chain, target, trust=trust, server_name=name)]


def _render(reports: list[CertificateReport], console: Console) -> None:
    for rep in reports:
        table = Table(title=rep.source, show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("subject", rep.subject)
        table.add_row("names", ", ".join(rep.sans) or "-")
        table.add_row("issuer", f"{rep.issuer} ({rep.ca})")
        table.add_row("chain", " → ".join(c["subject"] for c in rep.chain))
        if rep.verified is None:
            table.add_row("verifies", "not checked")
        else:
            ok = "[green]yes[/]" if rep.verified else f"[red]no[/]: {rep.verify_error}"
            table.add_row("verifies", f"{ok} (for {rep.verified_for})")
        table.add_row("valid", f"{rep.not_before:%Y-%m-%d %H:%M} → {rep.not_after:%Y-%m-%d %H:%M} UTC")
        colour = "red" if rep.days_left < 7 else "yellow" if rep.days_left < 30 else "green"
        table.add_row("days left", f"[{colour}]{rep.days_left:.1f}[/]")
        table.add_row("key", f"{rep.key_type} {rep.key_size} bits")
        table.add_row("serial", rep.serial)
        for warning in rep.warnings:
            table.add_row("warning", f"[yellow]{warning}[/]")
        print_whole(console, table)


@certs.command("inspect")
def inspect(
    target: str = typer.Argument(..., help="PEM/DER file, acme.json[#domain], or host:port."),
    servername: str = typer.Option("", "--servername", help="SNI name (and name to verify) for host:port."),
    ca_bundle: str = typer.Option("", "--ca-bundle", help="Trust this bundle instead of the system store."),
    output: str = typer.Option("text", "--format", help="text or json."),
    warn_days: float | None = typer.Option(None, "--warn-days", help="Exit 1 if any expires within N days."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds for a live connection."),
) -> None:
    """Show subject, names, issuer, chain, trust, validity and key of certificates."""
    _check_format(output)
    from ingressctl.tls.inspect import load_trust

    trust = load_trust(ca_bundle or None)
    reports = _reports_for(target, servername, trust, timeout)
    if output == "json":
        doc = {"schema": 1, "certificates": [r.to_json() for r in reports]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        _render(reports, Console(highlight=False, soft_wrap=True))
    if warn_days is not None:
        soon = [r for r in reports if r.days_left < warn_days]
        for rep in soon:
            _err().print(f"[yellow]warning:[/] {rep.source} expires in {rep.days_left:.1f} days")
        if soon:
            raise SystemExit(1)  # typer.Exit is swallowed by app(standalone_mode=False)


def register(app: typer.Typer) -> None:
    """Add the command group to the app."""
    app.add_typer(certs, name="certs")
