"""acme.json in every layout Traefik has written, and the storage the manager keeps its state in.

Layouts (docs/acme-testing.md §8), detected by shape, not by key names alone:
- `traefik-v1`: Traefik ≤ 1.6 (and 1.7 with a KV store): top-level `DomainsCertificate`.
- `traefik-v1.7`: the 1.7 file store: top-level `Account` / `Certificates` whose entries use `Domain`/`Key`.
- `traefik-v2`: v2 and v3: one top-level object per resolver, `{"Account": …, "Certificates": [...]}`.
All `[]byte` fields are standard base64. We only ever write the v2 layout.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingressctl.acme.files import atomic_write, backup_path, check_private, remove_stale_temporaries
from ingressctl.acme.understood import check_understood
from ingressctl.model import ConfigError, InputError

LAYOUT_V1 = "traefik-v1"
LAYOUT_V17 = "traefik-v1.7"
LAYOUT_V2 = "traefik-v2"


@dataclass(slots=True)
class AccountRecord:
    email: str = ""
    registration: dict[str, Any] | None = None  # {"body": {...}, "uri": "..."}; opaque otherwise
    private_key: bytes = b""  # DER PKCS#1 RSA, as Traefik writes it
    key_type: str = ""  # written by Traefik 2.0-3.6 only
    ca_server: str = ""  # ingressctl's own key (Traefik ignores unknown keys): which CA the account is at

    @property
    def uri(self) -> str:
        reg = self.registration or {}
        return str(reg.get("uri") or "")


@dataclass(slots=True)
class CertRecord:
    main: str
    sans: tuple[str, ...] = ()
    certificate: bytes = field(default=b"", repr=False)  # PEM chain, leaf first
    key: bytes = field(default=b"", repr=False)  # PEM
    store: str = "default"

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.main, *[s for s in self.sans if s != self.main])


@dataclass(slots=True)
class Resolver:
    name: str
    account: AccountRecord | None = None
    certificates: list[CertRecord] = field(default_factory=list)


@dataclass(slots=True)
class AcmeFile:
    source: str
    layout: str
    resolvers: list[Resolver]
    problems: list[str] = field(default_factory=list)  # entries that could not be read

    def resolver(self, name: str) -> Resolver | None:
        return next((r for r in self.resolvers if r.name == name), None)


def _b64(value: Any, what: str, problems: list[str]) -> bytes:
    if value in (None, ""):
        return b""
    if not isinstance(value, str):
        problems.append(f"{what}: expected a base64 string, found {type(value).__name__}")
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        problems.append(f"{what}: not valid base64")
        return b""


def _enc(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _account(obj: Any, where: str, problems: list[str]) -> AccountRecord | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        problems.append(f"{where}: the account is not an object")
        return None
    reg = obj.get("Registration")
    return AccountRecord(
        email=str(obj.get("Email") or ""),
        registration=reg if isinstance(reg, dict) else None,
        private_key=_b64(obj.get("PrivateKey"), f"{where}.PrivateKey", problems),
        key_type=str(obj.get("KeyType") or ""),
        ca_server=str(obj.get("CAServer") or ""),
    )


def _sans(value: Any) -> tuple[str, ...]:
    return tuple(str(s) for s in value) if isinstance(value, list) else ()


def _parse_v1(top: dict[str, Any], problems: list[str]) -> list[Resolver]:
    account = AccountRecord(
        email=str(top.get("Email") or ""),
        registration=top.get("Registration") if isinstance(top.get("Registration"), dict) else None,
        private_key=_b64(top.get("PrivateKey"), "PrivateKey", problems),
    )
    certs: list[CertRecord] = []
    dc = top.get("DomainsCertificate") or {}
    entries = dc.get("Certs") if isinstance(dc, dict) else None
    for i, entry in enumerate(entries or []):
        where = f"DomainsCertificate.Certs[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Domains"), dict):
            problems.append(f"{where}: not a certificate entry")
            continue
        domains, cert = entry["Domains"], entry.get("Certificate") or {}
        if not isinstance(cert, dict):
            problems.append(f"{where}.Certificate: not an object")
            continue
        certs.append(
            CertRecord(
                main=str(domains.get("Main") or cert.get("Domain") or ""),
                sans=_sans(domains.get("SANs")),
                certificate=_b64(cert.get("Certificate"), f"{where}.Certificate.Certificate", problems),
                key=_b64(cert.get("PrivateKey"), f"{where}.Certificate.PrivateKey", problems),
            )
        )
    return [Resolver("default", account, certs)]


def _parse_certs(
    entries: Any, where: str, domain_key: str, problems: list[str], *, v17: bool
) -> list[CertRecord]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        problems.append(f"{where}: expected a list")
        return []
    out: list[CertRecord] = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        dom = entry.get(domain_key) if isinstance(entry, dict) else None
        if not isinstance(dom, dict):
            problems.append(f"{at}: not a certificate entry (no {domain_key!r})")
            continue
        main_key, sans_key = ("Main", "SANs") if v17 else ("main", "sans")
        out.append(
            CertRecord(
                main=str(dom.get(main_key) or ""),
                sans=_sans(dom.get(sans_key)),
                certificate=_b64(
                    entry.get("Certificate" if v17 else "certificate"), f"{at}.certificate", problems
                ),
                key=_b64(entry.get("Key" if v17 else "key"), f"{at}.key", problems),
                store=str(entry.get("Store") or "default"),
            )
        )
    return out


def _is_resolver(value: Any) -> bool:
    return isinstance(value, dict) and set(value) <= {"Account", "Certificates"}


def _looks_v17(top: dict[str, Any]) -> bool:
    if not set(top) <= {"Account", "Certificates", "HTTPChallenges", "TLSChallenges"}:
        return False
    if not ({"Certificates", "HTTPChallenges", "TLSChallenges"} & set(top)) and _is_resolver(
        top.get("Account")
    ):
        return False  # a v2 file with one resolver that happens to be called "Account"
    account = top.get("Account")
    if isinstance(account, dict) and ("Account" in account or "Certificates" in account):
        return False
    certs = top.get("Certificates")
    if isinstance(certs, list) and certs and isinstance(certs[0], dict):
        return "Domain" in certs[0] or "Key" in certs[0]
    return isinstance(account, dict) and bool({"Email", "PrivateKey", "Registration"} & set(account))


def detect_layout(top: dict[str, Any]) -> str:
    if "DomainsCertificate" in top:
        return LAYOUT_V1
    if _looks_v17(top):
        return LAYOUT_V17
    return LAYOUT_V2


def parse_acme_json(text: str, source: str) -> AcmeFile:
    """Parse any layout; a corrupt or unrecognisable file raises InputError (never half a result)."""
    if not text.strip():
        return AcmeFile(source, LAYOUT_V2, [])  # Traefik treats an empty file as an empty store
    try:
        top = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); the file is corrupt or "
            "truncated. It was left untouched: restore it from a backup or move it away to start fresh"
        ) from None
    if not isinstance(top, dict):
        raise InputError(f"{source}: expected a JSON object at the top level, found {type(top).__name__}")
    problems: list[str] = []
    layout = detect_layout(top)
    if layout == LAYOUT_V1:
        resolvers = _parse_v1(top, problems)
    elif layout == LAYOUT_V17:
        resolvers = [
            Resolver(
                "default",
                _account(top.get("Account"), "Account", problems),
                _parse_certs(top.get("Certificates"), "Certificates", "Domain", problems, v17=True),
            )
        ]
    else:
        resolvers = []
        for name, value in top.items():
            if not isinstance(value, dict):
                raise InputError(
                    f"{source}: key {name!r} holds {type(value).__name__}, not a resolver object; this is "
                    "not an acme.json written by Traefik or ingressctl"
                )
            resolvers.append(
                Resolver(
                    name,
                    _account(value.get("Account"), f"{name}.Account", problems),
                    _parse_certs(
                        value.get("Certificates"), f"{name}.Certificates", "domain", problems, v17=False
                    ),
                )
            )
    return AcmeFile(source, layout, resolvers, problems)


def read_acme_file(path: Path) -> AcmeFile:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; this is not an acme.json file") from None
    return parse_acme_json(text, str(path))


def resolver_to_json(resolver: Resolver) -> dict[str, Any]:
    """The v2/v3 shape Traefik writes (`sans` left out when empty)."""
    out: dict[str, Any] = {}
    if resolver.account is not None:
        acct = resolver.account
        account: dict[str, Any] = {"Email": acct.email, "Registration": acct.registration}
        account["PrivateKey"] = _enc(acct.private_key)
        if acct.key_type:
            account["KeyType"] = acct.key_type
        if acct.ca_server:
            account["CAServer"] = acct.ca_server
        out["Account"] = account
    certs = []
    for cert in resolver.certificates:
        domain: dict[str, Any] = {"main": cert.main}
        if cert.sans:
            domain["sans"] = list(cert.sans)
        certs.append(
            {
                "domain": domain,
                "certificate": _enc(cert.certificate),
                "key": _enc(cert.key),
                "Store": cert.store,
            }
        )
    out["Certificates"] = certs
    return out


class Storage(Protocol):
    """Where the manager keeps one resolver's account and certificates (a file, or a BlobStore)."""

    def load(self) -> Resolver: ...

    def save(self, resolver: Resolver) -> None: ...

    def describe(self) -> str: ...


class AcmeJsonStorage:
    """acme.json (v2 layout) holding our resolver; other resolvers in the same file are preserved."""

    def __init__(self, path: str | Path, resolver: str = "default") -> None:
        self.path = Path(path)
        self.resolver = resolver

    def describe(self) -> str:
        return f"{self.path} (resolver {self.resolver!r})"

    def _read_top(self) -> dict[str, Any]:
        check_private(self.path)
        if not self.path.exists():
            return {}
        parsed = read_acme_file(self.path)  # raises InputError on corruption
        if parsed.layout != LAYOUT_V2:
            raise ConfigError(
                f"{self.path}: this is a {parsed.layout} acme.json; ingressctl stores certificates in the "
                "Traefik v2 layout and will not overwrite it. Point the storage at a new file "
                "([acme] storage, `serve --acme-storage` or `certs --storage`); export the old "
                "certificates with `ingressctl acme export`"
            )
        text = self.path.read_text()
        top: dict[str, Any] = json.loads(text) if text.strip() else {}
        check_understood(
            top,
            str(self.path),
            f"restore it (the previous version is kept as {backup_path(self.path).name}), point the "
            "storage at another file, or move it away to start fresh",
        )
        return top

    def load(self) -> Resolver:
        # A writer killed mid-write (kill -9, OOM) leaves its temporary file; it is never the state.
        remove_stale_temporaries(self.path)
        try:
            top = self._read_top()
        except InputError as exc:
            raise ConfigError(str(exc)) from None
        if self.resolver not in top:
            return Resolver(self.resolver)
        parsed = parse_acme_json(json.dumps({self.resolver: top[self.resolver]}), str(self.path))
        return parsed.resolvers[0]

    def save(self, resolver: Resolver) -> None:
        try:
            top = self._read_top()  # a corrupt file is never rewritten
        except InputError as exc:
            raise ConfigError(str(exc)) from None
        top[self.resolver] = resolver_to_json(resolver)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, (json.dumps(top, indent=2) + "\n").encode(), keep_backup=True)


class BlobStore(Protocol):
    """acme.json bytes kept somewhere other than a file (a Kubernetes Secret: `SecretStore`).

    `update(fn)` reads the current bytes, writes `fn(current)` only over what it read, and on a
    concurrent write reads again and re-applies `fn` (which must therefore be pure). Blocking.
    """

    def load_bytes(self) -> bytes | None: ...

    # Returns nothing the caller needs (SecretStore gives back the bytes written); `object` lets it.
    def update(self, fn: Callable[[bytes | None], bytes], /) -> object: ...

    def describe(self) -> str: ...


WRITE_ROUNDS = 4  # store.update() calls per save (each retries conflicts itself)
WRITE_BACKOFF = 0.1  # seconds before the second round, doubled each round, jittered


class BlobAcmeStorage:
    """One resolver of a v2 acme.json held in a BlobStore; the other resolvers in it are preserved.

    Saving rewrites only this resolver's key, through `store.update`: two replicas (or two resolvers)
    saving at once both survive. A corrupt or non-v2 blob is never overwritten (ConfigError).
    """

    def __init__(self, store: BlobStore, resolver: str = "default") -> None:
        self.store = store
        self.resolver = resolver

    def describe(self) -> str:
        return f"{self.store.describe()} (resolver {self.resolver!r})"

    def _top(self, data: bytes | None) -> dict[str, Any]:
        if not data:
            return {}
        where = self.store.describe()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: not UTF-8 text; this is not an acme.json") from None
        try:
            parsed = parse_acme_json(text, where)
        except InputError as exc:
            raise ConfigError(str(exc)) from None
        if parsed.layout != LAYOUT_V2:
            raise ConfigError(
                f"{where}: holds a {parsed.layout} acme.json; ingressctl stores certificates in the Traefik "
                "v2 layout and will not overwrite it. Point the ACME storage at another Secret"
            )
        top: dict[str, Any] = json.loads(text) if text.strip() else {}
        try:
            check_understood(top, where, "restore it, or point the ACME storage at another Secret")
        except InputError as exc:
            raise ConfigError(str(exc)) from None
        return top

    def _call(self, what: str, fn: Callable[[], Any], rounds: int = 1) -> Any:
        for round_ in range(rounds):
            try:
                return fn()
            except ConfigError:
                raise  # ours: the stored data is unusable; retrying cannot help
            except Exception as exc:
                # The store is an I/O edge whose client this layer may not import (acme never imports
                # providers): every failure there is a storage failure, which the manager retries loudly.
                if round_ + 1 >= rounds:
                    raise ConfigError(f"ACME storage {self.store.describe()}: cannot {what}: {exc}") from exc
                # Writers that keep colliding (replicas renewing at once) fall out of step; a brief
                # outage gets a second chance before an issued certificate is reported unsaved.
                time.sleep(WRITE_BACKOFF * (2**round_) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # pragma: no cover

    def load(self) -> Resolver:
        top = self._top(self._call("read", self.store.load_bytes))
        if self.resolver not in top:
            return Resolver(self.resolver)
        return parse_acme_json(json.dumps({self.resolver: top[self.resolver]}), self.describe()).resolvers[0]

    def save(self, resolver: Resolver) -> None:
        entry = resolver_to_json(resolver)

        def change(current: bytes | None) -> bytes:
            top = self._top(current)  # re-read on every attempt: a concurrent writer's keys survive
            top[self.resolver] = entry
            return (json.dumps(top, indent=2) + "\n").encode()

        self._call("write", lambda: self.store.update(change), rounds=WRITE_ROUNDS)
