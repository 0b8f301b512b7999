"""The certificate index: which stored certificate answers an SNI name. Pure lookup, no ssl, no I/O.

Selection for a name: exact name, then a one-label wildcard (`*.example.com` for `a.example.com`),
then the default certificate. When two sources serve the same name, the first in PRECEDENCE wins
(Ingress TLS Secret > ACME > file > default). Certificates that are not usable (expired, say) are
left out so that a lower source takes over. The store (ingressctl.tls.store) builds a new index on
every change and swaps one reference, so a lookup never sees a half-built index.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from ingressctl.tls import names as tlsnames


class CertificateSource(StrEnum):
    SECRET = "secret"  # an Ingress spec.tls[].secretName
    ACME = "acme"
    FILE = "file"  # [[entryPoints.NAME.tls.certificates]]
    DEFAULT = "default"


PRECEDENCE: tuple[CertificateSource, ...] = (
    CertificateSource.SECRET,
    CertificateSource.ACME,
    CertificateSource.FILE,
    CertificateSource.DEFAULT,
)


class Indexable(Protocol):
    """What the index needs to know about a certificate."""

    @property
    def served_names(self) -> frozenset[str]: ...  # DNS names, "*.example.com" for wildcards

    @property
    def usable(self) -> bool: ...

    @property
    def not_after(self) -> datetime.datetime: ...


EntryT = TypeVar("EntryT", bound=Indexable)


@dataclass(frozen=True, slots=True)
class CertificateIndex(Generic[EntryT]):
    exact: Mapping[str, EntryT]
    wildcard: Mapping[str, EntryT]  # keyed by the parent domain: "example.com"
    default: EntryT
    # When the first indexed certificate expires: the index must be rebuilt then, so that a lower
    # source (ACME, a file, the default) takes over without waiting for an update.
    expires: datetime.datetime | None = None

    def lookup(self, name: str) -> EntryT:
        """The certificate for a normalised name ("" for clients that send no SNI)."""
        if name:
            found = self.exact.get(name)
            if found is not None:
                return found
            parent = tlsnames.parent(name)
            if parent is not None:
                found = self.wildcard.get(parent)
                if found is not None:
                    return found
        return self.default


def build_index(
    entries: Mapping[CertificateSource, Iterable[EntryT]], default: EntryT
) -> CertificateIndex[EntryT]:
    """Index the usable certificates of every source, the higher source first for each name."""
    exact: dict[str, EntryT] = {}
    wildcard: dict[str, EntryT] = {}
    for source in PRECEDENCE:
        for entry in entries.get(source, ()):
            if not entry.usable:
                continue
            for name in entry.served_names:
                if name.startswith("*."):
                    wildcard.setdefault(name[2:], entry)
                else:
                    exact.setdefault(name, entry)
    indexed = {id(e): e for e in (*exact.values(), *wildcard.values())}.values()
    expires = min((e.not_after for e in indexed), default=None)
    return CertificateIndex(exact, wildcard, default, expires)
