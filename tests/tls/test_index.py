"""The pure certificate index: exact name, then one-label wildcard, then default; precedence by source."""

from __future__ import annotations

import datetime
import subprocess
import sys
from dataclasses import dataclass

from ingressctl.tls.index import CertificateSource, build_index

LATER = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Entry:
    label: str
    served_names: frozenset[str]
    usable: bool = True
    not_after: datetime.datetime = LATER


def entry(label: str, *names: str, usable: bool = True, not_after: datetime.datetime = LATER) -> Entry:
    return Entry(label, frozenset(names), usable, not_after)


DEFAULT = entry("default")


def test_exact_then_wildcard_then_default() -> None:
    index = build_index(
        {CertificateSource.FILE: [entry("exact", "a.example.com"), entry("wild", "*.example.com")]}, DEFAULT
    )
    assert index.lookup("a.example.com").label == "exact"
    assert index.lookup("b.example.com").label == "wild"
    assert index.lookup("x.b.example.com").label == "default"  # a wildcard covers one label only
    assert index.lookup("example.com").label == "default"
    assert index.lookup("").label == "default"  # no SNI


def test_higher_source_wins_and_unusable_is_skipped() -> None:
    index = build_index(
        {
            CertificateSource.FILE: [entry("file", "a.example.com")],
            CertificateSource.ACME: [entry("acme", "a.example.com")],
            CertificateSource.SECRET: [entry("expired secret", "a.example.com", usable=False)],
        },
        DEFAULT,
    )
    assert index.lookup("a.example.com").label == "acme"


def test_expires_is_the_first_expiry_of_an_indexed_certificate() -> None:
    soon = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    index = build_index(
        {CertificateSource.ACME: [entry("soon", "a.example.com", not_after=soon), entry("late", "*.b.com")]},
        DEFAULT,
    )
    assert index.expires == soon
    assert build_index({}, DEFAULT).expires is None


def test_index_needs_no_ssl() -> None:
    code = "import sys, ingressctl.tls.index; print('ssl' in sys.modules, 'asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
