"""What is in an acme.json and what is wrong with it (for `acme inspect` / `acme check` and monitoring)."""

from __future__ import annotations

import datetime
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.x509.oid import NameOID

from ingressctl.acme.storage import AcmeFile, CertRecord, read_acme_file
from ingressctl.model import InputError
from ingressctl.tls.inspect import ca_kind, dns_names, key_matches, parse_certificates


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


def account_summary(file: AcmeFile) -> list[dict[str, Any]]:
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
