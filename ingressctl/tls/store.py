"""The certificate store: every certificate the proxy can serve, and SNI selection among them.

Sources, by precedence for the same name: Ingress TLS Secret > ACME > file (traefik.toml) > default.
Selection for an SNI name: exact name, then a one-label wildcard (`*.example.com` for
`a.example.com`), then the default certificate. An Ingress `spec.tls[].hosts` entry that the Secret's
certificate covers (also through a wildcard) is indexed as an exact name, so a Secret claimed for
`a.example.com` beats an ACME certificate for that exact name even when the Secret holds `*.example.com`.

Updates build a new immutable index and swap one reference; the SNI callback reads that reference once
and never raises (a bad certificate is skipped when loaded, logged once, and listed in `problems`).
Expired certificates are kept for the dashboard but not served, so a lower source can take over.

Lookup itself is ingressctl.tls.index (pure); what the callback records on each connection, and
the 421 check that reads it, is ingressctl.tls.handshake.

TLS-ALPN-01 (RFC 8737): Python's ssl shows the SNI callback the server name but not the client's ALPN
offer. So the ACME challenge provider is asked first, by name only: while a challenge for a name is
pending, handshakes for that name get the challenge context (whose only ALPN protocol is `acme-tls/1`).
The window is the few seconds of validation; for names that already have a valid certificate a
browser arriving in that window would see the challenge certificate, so renewals of busy names are
better done with HTTP-01. `challenge_connection(ssl_object)` lets the proxy close such connections.
"""

from __future__ import annotations

import datetime
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ingressctl.model import ConfigError, Route, TLSCertificate
from ingressctl.model.config import CertificateFile, ClientCA, EntryPoint, StaticConfig
from ingressctl.tls import names as tlsnames
from ingressctl.tls.client_auth import HostClientAuth, client_auth_by_host
from ingressctl.tls.contexts import ALPN_DEFAULT, certificate_context, load_into, server_context
from ingressctl.tls.default_cert import generated_default_certificate
from ingressctl.tls.handshake import host_allowed, mark_challenge, mark_served
from ingressctl.tls.index import PRECEDENCE, CertificateIndex, CertificateSource, build_index
from ingressctl.tls.pem import CertificateError, ParsedCertificate, parse_pair
from ingressctl.tls.profiles import CipherProfiles, require_client_certificates

log = logging.getLogger("ingressctl.tls")

ChallengeProvider = Callable[[str], ssl.SSLContext | None]
MissListener = Callable[[str], None]
Clock = Callable[[], datetime.datetime]


@dataclass(frozen=True, slots=True)
class CertificateInput:
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    origin: str  # "Secret default/web-tls", "acme.json", "/etc/certs/site.crt"
    hosts: tuple[str, ...] = ()  # names claimed for it (Ingress spec.tls[].hosts)
    # What messages call the two halves, as their owner knows them ("tls.crt", "certFile PATH").
    cert_name: str = "the certificate PEM"
    key_name: str = "the key PEM"


@dataclass(frozen=True, slots=True)
class CertificateProblem:
    source: CertificateSource
    origin: str
    reason: str
    served: bool = True  # False: the certificate is left out (unusable or expired)

    @property
    def message(self) -> str:
        return self.reason if self.served else f"{self.reason}; not served"

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"

    @property
    def subject(self) -> str:
        """What the message is about: "Secret web/app-tls" says it already, a path or "ACME x" does not."""
        return self.origin if self.source is CertificateSource.SECRET else f"certificate {self.origin}"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What the dashboard shows about one certificate (same fields as ingressctl.api.view's)."""

    names: tuple[str, ...]  # subject CN first, then the other SANs
    issuer: str
    not_after: float
    source: CertificateSource
    problems: tuple[str, ...] = ()
    not_before: float | None = None
    origin: str = ""
    serial: str = ""


@dataclass(frozen=True, slots=True)
class StoredCertificate:
    source: CertificateSource
    origin: str
    parsed: ParsedCertificate
    context: ssl.SSLContext = field(repr=False, compare=False)
    # Names it is indexed under: its DNS SANs plus the claimed hosts it covers.
    served_names: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()
    usable: bool = True

    @property
    def not_after(self) -> datetime.datetime:
        return self.parsed.not_after

    def info(self) -> CertificateInfo:
        parsed = self.parsed
        cn = parsed.common_name.lower()
        ordered = ([cn] if cn else []) + [n for n in parsed.names if n != cn]
        return CertificateInfo(
            names=tuple(ordered),
            issuer=parsed.issuer,
            not_after=parsed.not_after.timestamp(),
            source=self.source,
            problems=self.problems,
            not_before=parsed.not_before.timestamp(),
            origin=self.origin,
            serial=parsed.serial,
        )


class _RequestLike(Protocol):
    @property
    def transport(self) -> Any: ...


HostCheck = Callable[[Any, str], bool]


class CertificateStore:
    """Thread-safe: writers are serialised by a lock; the SNI callback reads one immutable index."""

    def __init__(
        self,
        default: tuple[bytes, bytes] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock: Clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._lock = threading.Lock()
        self._entries: dict[CertificateSource, tuple[StoredCertificate, ...]] = {}
        self._problems: dict[CertificateSource, tuple[CertificateProblem, ...]] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._bases: list[tuple[ssl.SSLContext, str]] = []
        self._profiles = CipherProfiles()  # contexts for entrypoints with their own cipherSuites
        self._client_auth = HostClientAuth(self._profiles)  # per-host client certificates
        self._last_secrets: tuple[TLSCertificate, ...] | None = None
        self._challenge_provider: ChallengeProvider | None = None
        self._miss_listener: MissListener | None = None
        # A bad pair of the caller's is a bug (compose.default_certificate checked it): raise.
        parsed = parse_pair(*default) if default else generated_default_certificate(self._clock())
        default_entry = self._default_entry(parsed)
        self._entries[CertificateSource.DEFAULT] = (default_entry,)
        self._index: CertificateIndex[StoredCertificate] = build_index({}, default_entry)

    # ------------------------------------------------------------------ loading

    def _context_for(self, parsed: ParsedCertificate) -> ssl.SSLContext:
        ctx = self._contexts.get(parsed.digest)
        if ctx is None:
            ctx = certificate_context(parsed)
        return ctx

    def _default_entry(self, parsed: ParsedCertificate) -> StoredCertificate:
        self._profiles.prepare((parsed,))
        return StoredCertificate(
            CertificateSource.DEFAULT,
            "default",
            parsed,
            self._context_for(parsed),
            frozenset(),
        )

    def _build(
        self, source: CertificateSource, item: CertificateInput
    ) -> tuple[StoredCertificate | None, list[CertificateProblem]]:
        try:
            parsed = parse_pair(item.cert_pem, item.key_pem, cert_name=item.cert_name, key_name=item.key_name)
        except CertificateError as exc:
            return None, [CertificateProblem(source, item.origin, str(exc), served=False)]
        try:
            context = self._context_for(parsed)
            self._profiles.prepare((parsed,))
        except CertificateError as exc:  # OpenSSL's own checks (key size, signature algorithm)
            reason = f"{item.cert_name} and {item.key_name}: {exc}"
            return None, [CertificateProblem(source, item.origin, reason, served=False)]
        problems: list[CertificateProblem] = []
        served = set(parsed.names)
        for host in item.hosts:
            host = tlsnames.normalize(host)
            if not host:
                continue
            if tlsnames.covers(parsed.names, host):
                served.add(host)
            else:
                problems.append(CertificateProblem(source, item.origin, f"does not cover host {host}"))
        usable = parsed.not_after > self._clock()
        if not usable:
            problems.append(_expired(source, item.origin, parsed.not_after))
        messages = tuple(p.message for p in problems)
        stored = StoredCertificate(source, item.origin, parsed, context, frozenset(served), messages, usable)
        return stored, problems

    def replace(
        self, source: CertificateSource, items: Sequence[CertificateInput], *, report: bool = True
    ) -> tuple[CertificateProblem, ...]:
        """Make `items` the whole set of certificates from `source`; returns the problems found.

        Blocking work (parsing, loading keys into OpenSSL) happens here, never in the SNI callback;
        unchanged pairs reuse their SSLContext. New problems are logged unless `report` is False
        (the caller reports them itself).
        """
        if source is CertificateSource.DEFAULT:
            raise ValueError("use set_default() for the default certificate")
        stored: list[StoredCertificate] = []
        problems: list[CertificateProblem] = []
        for item in items:
            entry, found = self._build(source, item)
            problems.extend(found)
            if entry is not None:
                stored.append(entry)
        with self._lock:
            previous = set(self._problems.get(source, ()))
            self._entries[source] = tuple(stored)
            self._problems[source] = tuple(problems)
            self._rebuild()
        if report:
            self._report([p for p in problems if p not in previous], items)
        return tuple(problems)

    def _report(self, problems: Sequence[CertificateProblem], items: Sequence[CertificateInput]) -> None:
        """Log each problem once, saying what the hosts of a certificate that is not served get
        instead: the fallback is intended (as in Traefik and ingress-nginx), but must not be silent."""
        hosts = {item.origin: item.hosts for item in items}
        for problem in problems:
            note = ""
            if not problem.served:
                note = self._fallback(hosts.get(problem.origin, ()))
            log.warning("%s%s", problem, f", {note}" if note else "")

    def _fallback(self, hosts: Sequence[str]) -> str:
        """ "a.example.com gets the default certificate instead" (what the SNI lookup now returns)."""
        index = self._index
        by_served: dict[str, list[str]] = {}
        for raw in hosts:
            host = tlsnames.normalize(raw)
            if not host:
                continue
            entry = index.lookup(host)
            served = "the default certificate" if entry.source is CertificateSource.DEFAULT else entry.origin
            by_served.setdefault(served, []).append(host)
        parts = [
            f"{', '.join(names)} {'gets' if len(names) == 1 else 'get'} {served} instead"
            for served, names in by_served.items()
        ]
        return "; ".join(parts)

    def add(
        self, source: CertificateSource, items: Sequence[CertificateInput]
    ) -> tuple[CertificateProblem, ...]:
        """Add certificates to `source`, each replacing the one with the same origin (ACME issues
        one certificate at a time: origin "ACME example.com" replaces its previous version)."""
        if source is CertificateSource.DEFAULT:
            raise ValueError("use set_default() for the default certificate")
        built = [self._build(source, item) for item in items]
        origins = {item.origin for item in items}
        problems = [p for _, found in built for p in found]
        with self._lock:
            kept = [e for e in self._entries.get(source, ()) if e.origin not in origins]
            self._entries[source] = (*kept, *(entry for entry, _ in built if entry is not None))
            old_problems = [p for p in self._problems.get(source, ()) if p.origin not in origins]
            self._problems[source] = (*old_problems, *problems)
            self._rebuild()
        self._report(problems, items)
        return tuple(problems)

    def remove(self, source: CertificateSource, origin: str) -> None:
        """Stop serving the certificate of `source` that came from `origin` (no-op when absent)."""
        if source is CertificateSource.DEFAULT:
            raise ValueError("the default certificate cannot be removed, only replaced with set_default()")
        with self._lock:
            self._entries[source] = tuple(e for e in self._entries.get(source, ()) if e.origin != origin)
            self._problems[source] = tuple(p for p in self._problems.get(source, ()) if p.origin != origin)
            self._rebuild()

    def set_default(self, cert_pem: bytes, key_pem: bytes) -> None:
        """Replace the default certificate (raises CertificateError when it cannot be served)."""
        entry = self._default_entry(parse_pair(cert_pem, key_pem))
        with self._lock:
            self._entries[CertificateSource.DEFAULT] = (entry,)
            for base, _ in self._bases:
                load_into(base, entry.parsed)
            self._rebuild()

    def update(self, certificates: Sequence[TLSCertificate]) -> None:
        """The Ingress TLS Secrets of a new routing table (cheap when they did not change)."""
        current = tuple(certificates)
        if current == self._last_secrets:
            return
        self.replace(
            CertificateSource.SECRET,
            [
                CertificateInput(c.cert_pem, c.key_pem, str(c.secret), tuple(c.hosts), "tls.crt", "tls.key")
                for c in current
            ],
        )
        self._last_secrets = current

    def load_files(self, files: Sequence[CertificateFile]) -> tuple[CertificateProblem, ...]:
        """Certificates from the configuration file (paths, or PEM text as Traefik v1 allowed).

        Like a missing file, one that cannot be served is a configuration error (ConfigError, exit 2),
        one line per certificate: a server that starts without the certificate it was given serves
        the default certificate to every client of those names. An expired certificate is not an
        error (a restart must not stop a server whose HTTP routes work): it is returned, not logged,
        for the caller to report, and not served.
        """
        return self._load_files([(f"certificate {n}", pair) for n, pair in enumerate(files, start=1)], "")

    def load_static(self, static: StaticConfig) -> tuple[CertificateProblem, ...]:
        """The certificate files of every TLS entrypoint (they share one store, as in Traefik); errors
        name the file's `[[entryPoints.NAME.tls.certificates]]` table. See load_files."""
        files = [
            (f"entryPoints.{e.name}.tls.certificates[{n}]", pair)
            for e in static.entrypoints
            if e.tls is not None
            for n, pair in enumerate(e.tls.certificates)
        ]
        return self._load_files(files, static.source)

    def _load_files(
        self, files: Sequence[tuple[str, CertificateFile]], source: str
    ) -> tuple[CertificateProblem, ...]:
        items: list[CertificateInput] = []
        errors: list[str] = []
        prefix = f"{source}: " if source else ""
        for where, pair in files:
            inline = pair.cert_file.lstrip().startswith("-----BEGIN")
            item = CertificateInput(
                b"",
                b"",
                f"inline {where}" if inline else pair.cert_file,
                cert_name=_file_name("certFile", pair.cert_file),
                key_name=_file_name("keyFile", pair.key_file),
            )
            try:
                item = replace(item, cert_pem=_read_pem(pair.cert_file), key_pem=_read_pem(pair.key_file))
            except OSError as exc:
                name = item.cert_name if exc.filename == pair.cert_file else item.key_name
                errors.append(f"{prefix}{where}: {name} cannot be read: {exc.strerror or exc}")
                continue
            # Built here only to find the errors first (replace() builds again: a few files, once).
            entry, found = self._build(CertificateSource.FILE, item)
            if entry is None:
                errors.extend(f"{prefix}{where}: {p.reason}" for p in found)
                continue
            items.append(item)
        if errors:
            raise ConfigError("\n".join(errors))
        return self.replace(CertificateSource.FILE, items, report=False)

    def _rebuild(self) -> None:
        """Build and swap the index; caller holds the lock."""
        default = self._entries[CertificateSource.DEFAULT][0]
        self._contexts = {e.parsed.digest: e.context for entries in self._entries.values() for e in entries}
        self._profiles.retain(set(self._contexts))
        self._index = build_index(self._entries, default)

    def _current(self) -> CertificateIndex[StoredCertificate]:
        """The index, first retiring certificates that expired since it was built (cheap otherwise)."""
        index = self._index
        if index.expires is None or self._clock() < index.expires:
            return index
        retired: list[CertificateProblem] = []
        with self._lock:
            now = self._clock()
            for source, entries in list(self._entries.items()):
                if source is CertificateSource.DEFAULT:
                    continue
                kept: list[StoredCertificate] = []
                for entry in entries:
                    if entry.usable and entry.parsed.not_after <= now:
                        expired = _expired(source, entry.origin, entry.parsed.not_after)
                        entry = replace(entry, usable=False, problems=(*entry.problems, expired.message))
                        retired.append(expired)
                    kept.append(entry)
                self._entries[source] = tuple(kept)
            for problem in retired:
                self._problems[problem.source] = (*self._problems.get(problem.source, ()), problem)
            self._rebuild()
            index = self._index
        for problem in retired:
            log.warning("certificate %s: %s", problem.origin, problem.message)
        return index

    # ------------------------------------------------------------------ selection

    def select(self, server_name: str | None) -> StoredCertificate:
        """The certificate served for an SNI name (None or "" for clients that send none)."""
        return self._current().lookup(tlsnames.normalize(server_name))

    def names_for(self, server_name: str | None) -> frozenset[str]:
        """Names covered by the certificate served for `server_name` (for 421 Misdirected Request)."""
        return self.select(server_name).served_names

    def has_certificate(self, name: str) -> bool:
        """True when `name` gets a certificate other than the default (ACME on-demand asks this)."""
        return self.select(name).source is not CertificateSource.DEFAULT

    def set_alpn_challenge_provider(self, provider: ChallengeProvider | None) -> None:
        """TLS-ALPN-01: `provider(name)` returns the challenge context while a challenge is pending."""
        self._challenge_provider = provider

    def set_miss_listener(self, listener: MissListener | None) -> None:
        """Called (synchronously, must not block) with SNI names that only got the default certificate."""
        self._miss_listener = listener

    def sni_callback(
        self, ssl_object: Any, server_name: str | None, ssl_context: ssl.SSLContext
    ) -> int | None:
        """For `SSLContext.sni_callback`: swap in the selected certificate's context. Never raises."""
        try:
            name = tlsnames.normalize(server_name)
            provider = self._challenge_provider
            if provider is not None and name:
                challenge = provider(name)
                if challenge is not None:
                    ssl_object.context = challenge
                    mark_challenge(ssl_object, name)
                    return None
            entry = self._current().lookup(name)
            ssl_object.context = (
                self._client_auth.context(ssl_object, name, ssl_context, entry.parsed)
                or self._profiles.context_for(ssl_context, entry.parsed)
                or entry.context
            )
            mark_served(ssl_object, name, entry.served_names)
            listener = self._miss_listener
            if listener is not None and name and entry.source is CertificateSource.DEFAULT:
                listener(name)
        except Exception:  # a failing handshake is better than a crashed callback; log why
            log.exception("SNI selection failed for %r; serving the entrypoint's default", server_name)
        return None

    def ssl_context_for_entrypoint(
        self,
        min_version: str = "1.2",
        ciphers: tuple[str, ...] = (),
        client_ca: ClientCA | None = None,
        alpn: tuple[str, ...] = ALPN_DEFAULT,
    ) -> ssl.SSLContext:
        """A base context for one TLS entrypoint: its minimum version and TLS 1.2 ciphers, the
        default certificate, and this store's SNI callback. Version and ciphers stay the base
        context's even after the callback swaps in a certificate's context (OpenSSL keeps them per
        connection)."""
        ctx = server_context(min_version, ciphers, alpn)
        if client_ca is not None:
            require_client_certificates(ctx, client_ca.ca_pem, client_ca.optional)
        with self._lock:
            load_into(ctx, self._entries[CertificateSource.DEFAULT][0].parsed)
            self._bases.append((ctx, min_version))
            stored = [e.parsed for entries in self._entries.values() for e in entries]
        ca_pem, optional = (client_ca.ca_pem, client_ca.optional) if client_ca is not None else (b"", False)
        self._profiles.register(ctx, ciphers, stored, ca_pem, optional, alpn)
        if client_ca is None:
            self._client_auth.follow(ctx)
        ctx.sni_callback = self.sni_callback
        return ctx

    def ssl_context(self, entrypoint: EntryPoint) -> ssl.SSLContext:
        """The server's TLSProvider interface: the base context for a TLS entrypoint."""
        if entrypoint.tls is None:
            return self.ssl_context_for_entrypoint()
        tls = entrypoint.tls
        return self.ssl_context_for_entrypoint(
            tls.min_version, tls.cipher_suites, tls.client_ca, entrypoint.http2.protocols_tls
        )

    def set_routes(self, routes: Sequence[Route]) -> None:
        """The routes being served: the hosts whose routes ask for client certificates."""
        self._client_auth.update(client_auth_by_host(routes))

    def host_check(self, entrypoint: EntryPoint) -> HostCheck | None:
        """For the proxy: False (answer 421) when a client reuses a connection for a Host the
        certificate it was given does not cover (and that is not the SNI name it asked for)."""
        if entrypoint.tls is None:
            return None

        def check(request: _RequestLike, host: str) -> bool:
            transport = request.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
            return host_allowed(ssl_object, host)

        return check

    # ------------------------------------------------------------------ inspection

    @property
    def problems(self) -> tuple[CertificateProblem, ...]:
        problems = self._problems
        return tuple(p for source in PRECEDENCE for p in problems.get(source, ()))

    def infos(self) -> list[CertificateInfo]:
        entries = self._entries
        return [e.info() for source in PRECEDENCE for e in entries.get(source, ())]

    def describe(self, origin: str) -> str:
        """What is served from `origin`, in a few words for the reload summary: "serial 3f2a, expires
        2027-01-25" (and its problems), "not served: <why>", or "" for an origin the store never saw."""
        for entry in self.certificates():
            if entry.origin == origin:
                parsed = entry.parsed
                return ", ".join(
                    (f"serial {parsed.serial}", f"expires {parsed.not_after:%Y-%m-%d}", *entry.problems)
                )
        for problem in self.problems:
            if problem.origin == origin:
                return f"not served: {problem.reason}"
        return ""

    def certificates(self, source: CertificateSource | None = None) -> tuple[StoredCertificate, ...]:
        entries = self._entries
        return tuple(e for s in PRECEDENCE if source in (None, s) for e in entries.get(s, ()))


def _expired(source: CertificateSource, origin: str, not_after: datetime.datetime) -> CertificateProblem:
    return CertificateProblem(source, origin, f"expired on {not_after:%Y-%m-%d %H:%M} UTC", served=False)


def _file_name(key: str, value: str) -> str:
    """ "certFile /etc/certs/site.crt"; PEM text given in place of a path is not repeated."""
    return f"{key} (inline PEM)" if value.lstrip().startswith("-----BEGIN") else f"{key} {value}"


def _read_pem(value: str) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("utf-8")
    return Path(value).read_bytes()
