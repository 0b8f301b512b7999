"""Reading annotation values: the one set of readers every annotation family uses.

The pure parsers (`parse_boolean`, `parse_integer`, `parse_duration`, `parse_cidrs`, ...) turn a
value into data or None. `AnnotationReader` applies them to one Ingress's annotations and hands
every bad value to its `invalid` method: each family decides what a bad value means there (a
warning and the setting ignored, or an error and the routes failing closed), and the finding
always points at the annotation's line.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping

from ingressctl.model import Diagnostic, Ingress, Service, Severity
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding

# Traefik reads booleans with Go's strconv.ParseBool; ingress-nginx and Kubernetes users also
# write yes/no and on/off, which the families that take those spellings accept.
_GO_TRUE = frozenset({"1", "t", "true"})
_GO_FALSE = frozenset({"0", "f", "false"})
_LENIENT_TRUE = _GO_TRUE | {"yes", "on"}
_LENIENT_FALSE = _GO_FALSE | {"no", "off"}

HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP field name, method or cookie name: an RFC 9110 token (section 5.6.2)."""

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_boolean(text: str, *, lenient: bool = False) -> bool | None:
    """True/False of "true", "1", "t" (and with `lenient` "yes", "on"), any case; None otherwise."""
    word = text.strip().lower()
    if word in (_LENIENT_TRUE if lenient else _GO_TRUE):
        return True
    if word in (_LENIENT_FALSE if lenient else _GO_FALSE):
        return False
    return None


def parse_integer(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration ("3s", "1m30s", "500ms") or a plain number of seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) else None
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and text else None


def split_list(text: str, *, lines: bool = False) -> tuple[str, ...]:
    """The non-empty comma-separated items of `text` (with `lines`, line breaks separate too)."""
    if lines:
        text = text.replace("\n", ",")
    return tuple(item for item in (part.strip() for part in text.split(",")) if item)


def parse_cidrs(text: str, *, lines: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(networks, unusable items) of a list of addresses and CIDRs; networks without repeats."""
    networks: list[str] = []
    bad: list[str] = []
    for item in split_list(text, lines=lines):
        try:
            network = str(ipaddress.ip_network(item, strict=False))
        except ValueError:
            bad.append(item)
            continue
        if network not in networks:
            networks.append(network)
    return tuple(networks), tuple(bad)


def service_finding(service: Service, key: str, message: str, hint: str, severity: Severity) -> Diagnostic:
    """A finding about annotation `key` of a Service, at its line."""
    meta = service.meta
    return Diagnostic(
        code=codes.BAD_ANNOTATION,
        severity=severity,
        message=f"{service.ref}: annotation {key}: {message}",
        location=meta.annotation_locations.get(key) or meta.location,
        hint=hint,
        object=service.ref,
    )


class AnnotationReader:
    """Reads one Ingress's annotations; `invalid` decides what a bad value means for the family."""

    lenient_booleans = False  # also accept yes/no, on/off

    def __init__(self, ingress: Ingress, values: Mapping[str, str] | None = None) -> None:
        self.ingress = ingress
        self.values: Mapping[str, str] = ingress.meta.annotations if values is None else values
        self.diagnostics: list[Diagnostic] = []

    def report(
        self,
        key: str,
        message: str,
        hint: str,
        severity: Severity = Severity.WARNING,
        code: str = codes.BAD_ANNOTATION,
    ) -> None:
        """A finding about annotation `key`, at its line."""
        self.finding_at(key, f"annotation {key}: {message}", hint, severity, code)

    def finding_at(self, key: str, message: str, hint: str, severity: Severity, code: str) -> None:
        """A finding worded by the caller, at the line of annotation `key`."""
        self.diagnostics.append(
            finding(code, severity, self.ingress, message, hint, annotation_location(self.ingress, key))
        )

    def invalid(self, key: str, problem: str, hint: str) -> None:
        """`key` holds a value that cannot be used; `problem` says why (no consequence yet)."""
        raise NotImplementedError

    def text(self, key: str) -> str | None:
        raw = self.values.get(key)
        return None if raw is None else raw.strip()

    def boolean(self, key: str) -> bool | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        value = parse_boolean(raw, lenient=self.lenient_booleans)
        if value is None:
            self.invalid(key, f"{raw!r} is not a boolean", 'Write "true" or "false".')
        return value

    def integer(self, key: str, *, positive: bool = False) -> int | None:
        raw = self.values.get(key)
        if raw is None:
            return None
        value = parse_integer(raw)
        if value is None or (positive and value <= 0):
            what = "a positive whole number" if positive else "an integer"
            self.invalid(key, f"{raw!r} is not {what}", 'Write a whole number, e.g. "10".')
            return None
        return value

    def header_names(self, key: str) -> tuple[str, ...] | None:
        """Comma-separated header names; () when absent, None when one is not a header name."""
        raw = self.values.get(key)
        if raw is None:
            return ()
        names = split_list(raw)
        wrong = [n for n in names if not HEADER_NAME.match(n)]
        if wrong:
            self.invalid(
                key,
                f"{', '.join(repr(w) for w in wrong)} is not a header name",
                'Write header names separated by commas, e.g. "X-Auth-User, X-Auth-Email".',
            )
            return None
        return names

    def cidrs(self, key: str) -> tuple[str, ...] | None:
        """Addresses and CIDRs (commas or lines); () when absent, None when unusable or empty."""
        raw = self.values.get(key)
        if raw is None:
            return ()
        networks, bad = parse_cidrs(raw, lines=True)
        if bad or not networks:
            what = ", ".join(repr(b) for b in bad) if bad else "the list is empty, which"
            self.invalid(
                key,
                f"{what} is not an IP address or CIDR",
                'Write CIDRs separated by commas, e.g. "10.0.0.0/8, 192.168.1.7".',
            )
            return None
        return networks


class ClientCertificateFindings:
    """Findings of the client-certificate annotation families (auth-tls-*, pass-tls-cert): an error
    is also a refusal reason — every route of the Ingress answers 503 until it is fixed."""

    def __init__(self, ingress: Ingress) -> None:
        self.ingress = ingress
        self.diagnostics: list[Diagnostic] = []
        self.errors: list[str] = []

    def report(self, key: str, message: str, hint: str, severity: Severity = Severity.ERROR) -> None:
        if severity is Severity.ERROR:
            self.errors.append(f"{key}: {message}")
            message += "; every route of this Ingress answers 503 until it is fixed"
        self.diagnostics.append(
            finding(
                codes.CLIENT_AUTH,
                severity,
                self.ingress,
                f"annotation {key}: {message}",
                hint,
                annotation_location(self.ingress, key),
            )
        )
