"""`--entrypoint NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDR;CIDR][,h2c][,no-h2]`: entrypoints
from flags.

A flag defines an entrypoint, or changes the one of the configuration file with that name. What the
flag says wins; what it does not say stays as the file has it:

- ADDR always replaces the file's address.
- `tls` makes it a TLS entrypoint; the file's [tls] table (certificates, minVersion) is kept when it
  has one. A flag without `tls` for a TLS entrypoint of the file is refused: leaving out a word must
  not turn HTTPS into plain HTTP.
- `redirect=OTHER` replaces the file's redirect (to entrypoint OTHER, 302 as Traefik v1's default).
- `proxy-protocol=CIDR;CIDR` replaces the file's [proxyProtocol] trustedIPs.
- `h2c` serves HTTP/2 with prior knowledge on a plain entrypoint; `no-h2` stops offering h2 in ALPN on
  a TLS entrypoint (the file's [http2] table otherwise).
- auth and forwardedHeaders.trustedIPs of the file are kept.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingressctl.config.addresses import address_problem
from ingressctl.config.reader import show, suggest
from ingressctl.model.config import (
    CertificateFile,
    EntryPoint,
    EntryPointRedirect,
    EntryPointTLS,
    ProxyProtocol,
)

FORMAT = "NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDR;CIDR][,h2c][,no-h2]"
_OPTIONS = ("tls", "redirect=OTHER", "proxy-protocol=CIDR;CIDR", "h2c", "no-h2")
_FORMS = {
    "tls": "tls",
    "redirect": "redirect=OTHER",
    "proxy-protocol": "proxy-protocol=CIDR;CIDR",
    "h2c": "h2c",
    "no-h2": "no-h2",
}


@dataclass(frozen=True, slots=True)
class EntrypointFlag:
    """One parsed --entrypoint value; None: the flag does not say."""

    text: str  # "web=:80,redirect=websecure", for messages
    name: str
    address: str
    tls: bool = False
    redirect: str | None = None
    proxy_protocol: tuple[str, ...] | None = None
    h2c: bool = False
    no_h2: bool = False


class FlagError(ValueError):
    """What is wrong with an --entrypoint value (the message names the flag and the bad part)."""


def parse_entrypoint_flag(name: str, spec: str) -> EntrypointFlag:
    """Parse the part after NAME= ("ADDR,tls,..."); FlagError naming the bad part."""
    text = f"{name}={spec}"
    flag = f"--entrypoint {text}"
    address, *options = (part.strip() for part in spec.split(","))
    problem = address_problem(address)
    if problem is not None:
        raise FlagError(f"{flag}: address {show(address)} {problem}")
    tls = False
    redirect: str | None = None
    proxy: tuple[str, ...] | None = None
    h2c = no_h2 = False
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "tls" and not sep:
            tls = True
        elif key == "redirect" and sep:
            if not value:
                raise FlagError(f"{flag}: redirect= needs the name of an entrypoint, like redirect=websecure")
            redirect = value
        elif key == "proxy-protocol" and sep:
            proxy = _cidrs(flag, value)
        elif key == "h2c" and not sep:
            h2c = True
        elif key == "no-h2" and not sep:
            no_h2 = True
        elif key in _FORMS:
            raise FlagError(f"{flag}: write {_FORMS[key]}, not {show(option)}")
        else:
            shown = show(option)
            raise FlagError(
                f"{flag}: unknown part {shown} (after the address: {', '.join(_OPTIONS)})"
                + suggest(key, ["tls", "redirect", "proxy-protocol", "h2c", "no-h2"])
            )
    if h2c and tls:
        raise FlagError(f"{flag}: h2c is HTTP/2 on a plain entrypoint; a tls entrypoint offers h2 by ALPN")
    if no_h2 and not tls:
        raise FlagError(f"{flag}: no-h2 turns off h2 in ALPN on a tls entrypoint; add ,tls or leave it out")
    return EntrypointFlag(text, name, address, tls, redirect, proxy, h2c, no_h2)


def _cidrs(flag: str, value: str) -> tuple[str, ...]:
    out: list[str] = []
    for item in (v.strip() for v in value.split(";")):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise FlagError(
                f"{flag}: proxy-protocol {show(item)} is not an IP address or CIDR "
                "(separate several with ';', like proxy-protocol=10.0.0.0/8;192.168.1.5)"
            ) from None
    return tuple(out)


def apply_entrypoint_flags(
    entrypoints: dict[str, EntryPoint],
    flags: Sequence[EntrypointFlag],
    tls_line: Callable[[str], str],
    report: Callable[[str], None],
) -> None:
    """Apply `flags` to the file's `entrypoints` (in place); `tls_line(name)` says where the file
    makes `name` a TLS entrypoint ("traefik.toml:5"); problems go to `report`."""
    applied: list[EntrypointFlag] = []
    for flag in flags:
        existing = entrypoints.get(flag.name)
        if existing is not None and existing.tls is not None and not flag.tls:
            address = flag.text.partition("=")[2]
            report(
                f"--entrypoint {flag.text}: entrypoint {flag.name} is a TLS entrypoint in "
                f"{tls_line(flag.name)}; add ,tls to keep it one (--entrypoint {flag.name}={address},tls)"
            )
            continue
        entrypoints[flag.name] = _merged(existing, flag)
        applied.append(flag)
    _check_redirects(entrypoints, applied, report)


def _merged(existing: EntryPoint | None, flag: EntrypointFlag) -> EntryPoint:
    base = existing if existing is not None else EntryPoint(name=flag.name, address=flag.address)
    changes: dict[str, object] = {"address": flag.address}
    if flag.tls and base.tls is None:
        changes["tls"] = EntryPointTLS()
    if flag.redirect is not None:
        changes["redirect"] = EntryPointRedirect(entrypoint=flag.redirect)
    if flag.proxy_protocol is not None:
        changes["proxy_protocol"] = ProxyProtocol(trusted_ips=flag.proxy_protocol)
    if flag.h2c:
        changes["http2"] = dataclasses.replace(base.http2, h2c=True)
    if flag.no_h2:
        changes["http2"] = dataclasses.replace(base.http2, enabled=False)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _check_redirects(
    entrypoints: dict[str, EntryPoint], flags: Sequence[EntrypointFlag], report: Callable[[str], None]
) -> None:
    """A redirect a flag names must go to another defined entrypoint. A bad one is reported here (and
    dropped, so that the file's checks do not report it a second time under a file key)."""
    for flag in flags:
        target = flag.redirect
        if target is None:
            continue
        problem: str | None = None
        if target == flag.name:
            problem = f"redirect={target} redirects entrypoint {flag.name} to itself"
        elif target not in entrypoints:
            problem = (
                f"redirect={target}: no entrypoint {show(target)} is defined"
                + suggest(target, sorted(entrypoints))
                + f" (define it with --entrypoint {target}=ADDR,tls)"
            )
        if problem is not None:
            report(f"--entrypoint {flag.text}: {problem}")
            entrypoints[flag.name] = dataclasses.replace(entrypoints[flag.name], redirect=None)


def split_entrypoint_value(value: str) -> tuple[str, str]:
    """ "NAME=SPEC" → (NAME, SPEC); FlagError when there is no NAME= part."""
    name, sep, spec = value.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise FlagError(f"--entrypoint {value!r}: expected {FORMAT}, e.g. --entrypoint web=:8000")
    return name.strip(), spec.strip()


def default_certificate_files(value: str) -> tuple[CertificateFile | None, str | None]:
    """--default-certificate CERT,KEY → (the files, None) or (None, what is wrong)."""
    flag = f"--default-certificate {value}"
    cert, sep, key = (part.strip() for part in value.partition(","))
    if not sep or not cert or not key or "," in key:
        return None, f"{flag}: expected CERT,KEY (two PEM files), like /etc/tls/tls.crt,/etc/tls/tls.key"
    for path in (cert, key):
        file = Path(path)
        if not file.is_file():
            return None, f"{flag}: file {path!r} does not exist"
        if not os.access(file, os.R_OK):
            return None, f"{flag}: file {path!r} is not readable by this user"
    return CertificateFile(cert_file=str(Path(cert).resolve()), key_file=str(Path(key).resolve())), None
