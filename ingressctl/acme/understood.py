"""Is an acme.json one that ingressctl fully understands, so that rewriting it loses nothing?

`serve` (and `certs request --storage`) rewrite the whole file. A key or a type they do not know
(a newer Traefik, a hand edit, another tool) would be dropped or mangled by that rewrite, taking the
account key or certificates with it. So before the first write the file must be exactly the
Traefik v2/v3 layout, every value of the type Traefik writes; otherwise `check_understood` raises
one line that names the file, the place and the problem, and nothing is written.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ingressctl.model import InputError

ACCOUNT_KEYS = frozenset({"Email", "Registration", "PrivateKey", "KeyType", "CAServer"})
RESOLVER_KEYS = frozenset({"Account", "Certificates"})
CERTIFICATE_KEYS = frozenset({"domain", "certificate", "key", "Store"})
DOMAIN_KEYS = frozenset({"main", "sans"})
REFUSAL = "ingressctl does not fully understand this file and will not overwrite it"


class NotUnderstood(ValueError):
    """Where in the document, and what is wrong there."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")


def _only(obj: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise NotUnderstood(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _string(value: Any, where: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise NotUnderstood(f"{where}: expected a string, found {_kind(value)}")


def _base64(value: Any, where: str) -> None:
    _string(value, where)
    if value:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise NotUnderstood(f"{where}: not valid base64") from None


def _account(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise NotUnderstood(f"{where}: expected an object, found {_kind(value)}")
    _only(value, ACCOUNT_KEYS, where)
    for key in ("Email", "KeyType", "CAServer"):
        _string(value.get(key), f"{where}.{key}")
    registration = value.get("Registration")
    if registration is not None and not isinstance(registration, dict):
        raise NotUnderstood(f"{where}.Registration: expected an object, found {_kind(registration)}")
    _base64(value.get("PrivateKey"), f"{where}.PrivateKey")


def _certificate(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise NotUnderstood(f"{where}: expected an object, found {_kind(value)}")
    _only(value, CERTIFICATE_KEYS, where)
    domain = value.get("domain")
    if not isinstance(domain, dict):
        raise NotUnderstood(f"{where}.domain: expected an object, found {_kind(domain)}")
    _only(domain, DOMAIN_KEYS, f"{where}.domain")
    _string(domain.get("main"), f"{where}.domain.main", optional=False)
    sans = domain.get("sans")
    if sans is not None and not (isinstance(sans, list) and all(isinstance(s, str) for s in sans)):
        raise NotUnderstood(f"{where}.domain.sans: expected a list of strings, found {_kind(sans)}")
    _base64(value.get("certificate"), f"{where}.certificate")
    _base64(value.get("key"), f"{where}.key")
    _string(value.get("Store"), f"{where}.Store")


def find_problem(top: Any) -> str | None:
    """The first thing in a parsed v2 document that ingressctl does not understand, or None."""
    try:
        if not isinstance(top, dict):
            raise NotUnderstood(f"top level: expected an object, found {_kind(top)}")
        for name, resolver in top.items():
            if not isinstance(resolver, dict):
                raise NotUnderstood(f"{name}: expected a resolver object, found {_kind(resolver)}")
            _only(resolver, RESOLVER_KEYS, name)
            _account(resolver.get("Account"), f"{name}.Account")
            certificates = resolver.get("Certificates")
            if certificates is None:
                continue
            if not isinstance(certificates, list):
                raise NotUnderstood(f"{name}.Certificates: expected a list, found {_kind(certificates)}")
            for i, certificate in enumerate(certificates):
                _certificate(certificate, f"{name}.Certificates[{i}]")
    except NotUnderstood as exc:
        return str(exc)
    return None


def check_understood(top: Any, source: str, advice: str) -> None:
    """Raise InputError (one line) unless `top` is a v2 document ingressctl can rewrite without loss."""
    problem = find_problem(top)
    if problem is not None:
        raise InputError(f"{source}: {problem}; {REFUSAL}: {advice}")
