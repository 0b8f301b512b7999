"""Read each table of traefik.toml into the static-configuration model.

Every function takes a `Section` (validated access, problems accumulate) and returns model values or
None. Cross-references between tables (redirect targets, acme entrypoints) are checked by the loader
after command-line overrides are applied.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ingressctl.config.addresses import address_problem
from ingressctl.config.client_ca import read_client_ca
from ingressctl.config.http2_section import read_http2
from ingressctl.config.reader import Section, dotted, show, suggest
from ingressctl.model.config import (
    ApiConfig,
    CertificateFile,
    ConnectionLimits,
    EntryPoint,
    EntryPointAuth,
    EntryPointRedirect,
    EntryPointTLS,
    ProxyProtocol,
)
from ingressctl.model.http2 import Http2Settings
from ingressctl.routing.refusals import control_characters
from ingressctl.security import htpasswd
from ingressctl.security.tls_profile import GO_TLS12_SUITES, choose_ciphers

_ENTRYPOINT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

# Traefik v1 providers other than kubernetes: refusing them is better than silently serving nothing.
UNSUPPORTED_PROVIDERS = (
    "file",
    "docker",
    "swarm",
    "consul",
    "consulCatalog",
    "etcd",
    "zookeeper",
    "boltdb",
    "marathon",
    "mesos",
    "ecs",
    "rancher",
    "eureka",
    "dynamodb",
    "servicefabric",
    "rest",
    "backends",
    "frontends",
)


@dataclass(frozen=True, slots=True)
class Context:
    base_dir: Path  # relative paths in the file are resolved against the file's directory
    # Entrypoints the file gives a [tls] table, found before any entrypoint is read: a refused regex
    # redirect names one as the entryPoint to use, and the TLS entrypoint usually comes after it.
    tls_entrypoints: tuple[str, ...] = ()

    def resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return Path(os.path.normpath(candidate if candidate.is_absolute() else self.base_dir / candidate))


def _address(section: Section, key: str) -> str | None:
    value = section.string(key, example=":80")
    if value is None:
        return None
    problem = address_problem(value)
    if problem is not None:
        section.problems.error((*section.path, key), f"{section.name(key)} {show(value)}: {problem}")
        return None
    return value


def read_auth(section: Section, ctx: Context, default_realm: str) -> EntryPointAuth | None:
    """[*.auth] with a basic table; digest and forward auth are refused (not enforced = open door)."""
    for kind in ("digest", "forward"):
        section.unsupported(kind, "only [auth.basic] is implemented", error=True)
    section.unsupported("headerField", "the authenticated user is not passed to the backend in a header")
    basic = section.table("basic")
    section.finish()
    if basic is None:
        return None
    errors_before = len(basic.problems.errors)
    users: list[tuple[str, str]] = []
    listed = basic.str_list("users", example="admin:$apr1$...")
    if listed is not None:
        result = htpasswd.parse("\n".join(listed))
        for problem in result.problems:
            basic.problems.error(
                (*basic.path, "users"), f"{basic.name('users')} entry {problem.line}: {problem.message}"
            )
        users.extend(result.users)
    users_file = basic.string("usersFile", example="users.htpasswd")
    if users_file is not None:
        path = ctx.resolve(users_file)
        try:
            text = path.read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is not part of a name
        except OSError as exc:
            basic.problems.error(
                (*basic.path, "usersFile"),
                f"{basic.name('usersFile')}: cannot read {path}: {exc.strerror or exc}",
            )
        except UnicodeDecodeError:
            basic.problems.error(
                (*basic.path, "usersFile"),
                f"{basic.name('usersFile')}: {path} is not UTF-8 text (htpasswd holds user:hash lines)",
            )
        else:
            result = htpasswd.parse(text)
            for problem in result.problems:
                basic.problems.error((*basic.path, "usersFile"), f"{path}:{problem.line}: {problem.message}")
            known = {u for u, _ in users}
            users.extend((u, h) for u, h in result.users if u not in known)
    realm = basic.string("realm") or default_realm
    unsafe = control_characters(realm)
    if unsafe:  # it is sent in every WWW-Authenticate header
        basic.problems.error(
            (*basic.path, "realm"),
            f"{basic.name('realm')} holds control characters ({', '.join(unsafe)}); write it on one line",
        )
    basic.unsupported("removeHeader", "the Authorization header is always passed to the backend")
    basic.finish()
    if not users and len(basic.problems.errors) == errors_before:
        basic.problems.error(basic.path, f"[{dotted(basic.path)}] has neither users nor usersFile")
    return EntryPointAuth(realm=realm, users=tuple(users))


def _read_tls(section: Section, ctx: Context) -> EntryPointTLS:
    min_version = "1.2"
    raw = section.string("minVersion", example="VersionTLS12")
    if raw is not None:
        if raw in ("VersionTLS10", "VersionTLS11"):
            section.problems.error(
                (*section.path, "minVersion"),
                f"{section.name('minVersion')} {show(raw)}: TLS 1.0 and 1.1 are not offered, "
                'use "VersionTLS12" or "VersionTLS13"',
            )
        else:
            min_version = (
                section.choice("minVersion", {"VersionTLS12": "1.2", "VersionTLS13": "1.3"}) or "1.2"
            )
    certificates: list[CertificateFile] = []
    for cert in section.tables("certificates"):
        files: dict[str, str] = {}
        for key in ("certFile", "keyFile"):
            value = cert.string(key, example="certs/site.crt" if key == "certFile" else "certs/site.key")
            if value is None:
                if not cert.has(key):
                    cert.problems.error(cert.path, f"{cert.name(key)} is required")
                continue
            if value.lstrip().startswith("-----BEGIN"):
                files[key] = value  # Traefik v1 also took the PEM text itself
                continue
            path = ctx.resolve(value)
            if not path.is_file():
                cert.problems.error(
                    (*cert.path, key), f"{cert.name(key)}: file {show(value)} ({path}) does not exist"
                )
                continue
            files[key] = str(path)
        cert.finish()
        if len(files) == 2:
            certificates.append(CertificateFile(cert_file=files["certFile"], key_file=files["keyFile"]))
    cipher_suites = _read_cipher_suites(section)
    section.unsupported("sniStrict", "unknown names get the default certificate")
    client_ca = read_client_ca(section, ctx.resolve)
    section.unsupported("defaultCertificate", "give it with serve --default-certificate CERT,KEY")
    section.finish()
    return EntryPointTLS(
        certificates=tuple(certificates),
        min_version=min_version,
        cipher_suites=cipher_suites,
        client_ca=client_ca,
    )


_EXAMPLE_SUITE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def _read_cipher_suites(section: Section) -> tuple[str, ...]:
    """Traefik v1's cipherSuites (Go names) as OpenSSL names; unknown or broken names are errors."""
    names = section.str_list("cipherSuites", example=_EXAMPLE_SUITE)
    if not names:
        return ()
    key = (*section.path, "cipherSuites")
    choice = choose_ciphers(names)
    for name in choice.unknown:
        go_name = next((g for g, o in GO_TLS12_SUITES.items() if o == name.strip().upper()), None)
        if go_name is not None:
            hint = f" (that is OpenSSL's name; write Go's, as Traefik did: {show(go_name)})"
        else:
            hint = suggest(name, list(GO_TLS12_SUITES)) or f" (write Go's names, e.g. {show(_EXAMPLE_SUITE)})"
        section.problems.error(
            key, f"{section.name('cipherSuites')}: unknown cipher suite {show(name)}{hint}"
        )
    for name, why in choice.broken:
        section.problems.error(key, f"{section.name('cipherSuites')}: {show(name)} is refused: {why}")
    if choice.outside_profile:
        listed = ", ".join(choice.outside_profile)
        section.problems.warn(
            key,
            f"{section.name('cipherSuites')}: {listed} are outside Mozilla's intermediate profile "
            "(CBC, SHA-1 MAC or RSA key exchange); offered because they are listed",
        )
    if not choice.openssl_names and not choice.unknown and not choice.broken:
        section.problems.warn(
            key,
            f"{section.name('cipherSuites')} lists only TLS 1.3 suites, which cannot be chosen; "
            "TLS 1.2 offers the default profile",
        )
    return choice.openssl_names


def _read_redirect(name: str, section: Section, ctx: Context) -> EntryPointRedirect | None:
    target = section.string("entryPoint", example="https")
    permanent = section.boolean("permanent") or False
    rewrite = [key for key in ("regex", "replacement") if section.has(key)]
    if section.has("entryPoint"):
        # Traefik v1 also lets entryPoint win over regex/replacement: the redirect still happens.
        for key in rewrite:
            section.unsupported(key, "the redirect goes to entryPoint, as in Traefik v1")
    elif rewrite:
        # Ignoring the only redirect would serve what was meant to be redirected (often plain HTTP
        # that should have gone to HTTPS): refused, like every setting ingressctl cannot enforce.
        label = section.name(rewrite[0]) + ("/replacement" if len(rewrite) == 2 else "")
        verb = "are" if len(rewrite) == 2 else "is"
        to = next((n for n in ctx.tls_entrypoints if n != name), "https")
        section.problems.error(
            (*section.path, rewrite[0]),
            f"{label} {verb} not supported (ingressctl redirects to entrypoints only): for http→https "
            f'use entryPoint = "{to}" in [{dotted(section.path)}]',
        )
    else:
        section.problems.error(section.path, f"{section.name('entryPoint')} is required")
    section.finish()
    if target is None:
        return None
    return EntryPointRedirect(entrypoint=target, permanent=permanent)


def _cidrs(section: Section, key: str) -> tuple[str, ...]:
    values = section.str_list(key, example="10.0.0.0/8") or ()
    good: list[str] = []
    for value in values:
        try:
            good.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            section.problems.error(
                (*section.path, key), f"{section.name(key)}: {show(value)} is not an IP address or CIDR"
            )
    return tuple(good)


def _read_transport(section: Section) -> ConnectionLimits:
    """[entryPoints.NAME.transport]: connection limits (Traefik v2's table; its respondingTimeouts
    idleTimeout, plus Go's readHeaderTimeout, and our own caps)."""
    defaults = ConnectionLimits()
    max_connections = section.integer("maxConnections", minimum=0)
    pipelined = section.integer("maxPipelinedRequests", minimum=1)
    header_timeout = idle_timeout = None
    timeouts = section.table("respondingTimeouts")
    if timeouts is not None:
        header_timeout = timeouts.duration("readHeaderTimeout")
        idle_timeout = timeouts.duration("idleTimeout")
        for key, zero in (("readHeaderTimeout", header_timeout), ("idleTimeout", idle_timeout)):
            if zero == 0:  # Traefik's 0 means "no timeout": a slow client could hold a connection forever
                timeouts.problems.error(
                    (*timeouts.path, key), f'{timeouts.name(key)} must be more than 0 (a duration like "30s")'
                )
        for key in ("readTimeout", "writeTimeout"):
            timeouts.unsupported(
                key,
                "whole requests and responses have no deadline; readHeaderTimeout bounds the request head "
                "and a body may pause at most 90s",
            )
        timeouts.finish()
    section.unsupported("lifeCycle", "the shutdown grace period is the top-level [lifeCycle] graceTimeOut")
    section.finish()
    return ConnectionLimits(
        read_header_timeout=header_timeout or defaults.read_header_timeout,
        idle_timeout=idle_timeout or defaults.idle_timeout,
        max_connections=defaults.max_connections if max_connections is None else max_connections,
        max_pipelined_requests=pipelined or defaults.max_pipelined_requests,
    )


def read_entrypoint(name: str, section: Section, ctx: Context) -> EntryPoint | None:
    if not _ENTRYPOINT_NAME.fullmatch(name):
        section.problems.error(
            section.path, f"entrypoint name {show(name)} may hold only letters, digits, '-' and '_'"
        )
    address = _address(section, "address")
    if address is None and not section.has("address"):
        section.problems.error(section.path, f'{section.name("address")} is required, like ":80"')
    tls_section = section.table("tls")
    tls = _read_tls(tls_section, ctx) if tls_section is not None else None
    redirect_section = section.table("redirect")
    redirect = _read_redirect(name, redirect_section, ctx) if redirect_section is not None else None
    auth_section = section.table("auth")
    auth = read_auth(auth_section, ctx, "ingressctl") if auth_section is not None else None
    trusted: tuple[str, ...] = ()
    forwarded = section.table("forwardedHeaders")
    if forwarded is not None:
        trusted = _cidrs(forwarded, "trustedIPs")
        if forwarded.boolean("insecure"):
            trusted = ("0.0.0.0/0", "::/0")
        forwarded.finish()
    proxy_section = section.table("proxyProtocol")
    proxy = _read_proxy_protocol(proxy_section) if proxy_section is not None else None
    transport = section.table("transport")
    limits = _read_transport(transport) if transport is not None else ConnectionLimits()
    http2_section = section.table("http2")
    http2 = read_http2(http2_section, tls is not None) if http2_section is not None else Http2Settings()
    compress = bool(section.boolean("compress"))
    for key in ("whiteList", "whitelistSourceRange"):
        section.unsupported(
            key,
            "use the ingress.kubernetes.io/whitelist-source-range annotation on the Ingress",
            error=True,
        )
    section.finish()
    if address is None:
        return None
    return EntryPoint(
        name=name,
        address=address,
        tls=tls,
        redirect=redirect,
        auth=auth,
        trusted_ips=trusted,
        proxy_protocol=proxy,
        limits=limits,
        http2=http2,
        compress=compress,
    )


def _read_proxy_protocol(section: Section) -> ProxyProtocol | None:
    """[entryPoints.X.proxyProtocol] trustedIPs / insecure (Traefik's keys): which peers must send a
    PROXY header (insecure: every peer)."""
    errors_before = len(section.problems.errors)
    trusted = _cidrs(section, "trustedIPs")
    insecure = section.boolean("insecure") or False
    section.finish()
    if insecure:
        return ProxyProtocol(trusted_ips=("0.0.0.0/0", "::/0"))
    if not trusted:
        if len(section.problems.errors) == errors_before:
            section.problems.error(
                section.path,
                f"[{dotted(section.path)}] needs trustedIPs (the load balancers' addresses) or "
                "insecure = true (every peer must send a PROXY header)",
            )
        return None
    return ProxyProtocol(trusted_ips=trusted)


def read_api(
    section: Section, ctx: Context, entrypoints: dict[str, EntryPoint]
) -> tuple[ApiConfig, str | None]:
    """[api] or [web]: the dashboard/API. Returns it and the entrypoint it took over, if any.

    Traefik v1.7 puts the API on an entrypoint (`[api] entryPoint = "traefik"`, default ":8080");
    that entrypoint then serves the API instead of routes.
    """
    defaults = ApiConfig()
    address = _address(section, "address")
    taken: str | None = None
    if section.has("entryPoint"):
        name = section.string("entryPoint", example="traefik")
        if name is not None and name in entrypoints:
            taken = name
            address = address or entrypoints[name].address
        elif name == "traefik":
            address = address or ":8080"
        elif name is not None:
            section.problems.error(
                (*section.path, "entryPoint"),
                f'{section.name("entryPoint")} "{name}" is not defined in [entryPoints]',
            )
    auth_section = section.table("auth")
    auth = read_auth(auth_section, ctx, "ingressctl dashboard") if auth_section is not None else None
    if auth is None and taken is not None:
        auth = entrypoints[taken].auth
    dashboard = section.boolean("dashboard")
    config = ApiConfig(
        address=address or defaults.address,
        insecure=section.boolean("insecure") or False,
        auth=auth,
        dashboard=defaults.dashboard if dashboard is None else dashboard,
    )
    section.boolean("readOnly")  # the API is always read-only
    section.unsupported("debug", "there are no debug endpoints")
    section.unsupported("statistics", "see /metrics")
    section.unsupported("metrics", "/metrics is always served in Prometheus format")
    section.unsupported("certFile", "serve the dashboard behind an entrypoint with TLS instead", error=True)
    section.unsupported("keyFile", "serve the dashboard behind an entrypoint with TLS instead", error=True)
    section.finish()
    return config, taken


def entrypoint_name_problem(name: str) -> str | None:
    return None if _ENTRYPOINT_NAME.fullmatch(name) else "may hold only letters, digits, '-' and '_'"
