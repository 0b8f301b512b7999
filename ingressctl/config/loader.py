"""Load traefik.toml (Traefik v1 subset plus our keys), apply command-line overrides, validate.

All problems are collected and raised at once as a `StaticConfigError` (a ConfigError, exit 2), one
line each: `traefik.toml:14: entryPoints.http.redirect.entryPoint "httpss" is not defined (did you
mean "https"?)`. Accepted-but-ignored Traefik settings become `StaticConfig.warnings`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

from ingressctl.config.acme_section import CA_SHORTCUTS, read_acme
from ingressctl.config.addresses import address_problem, addresses_overlap
from ingressctl.config.entrypoint_flags import (
    EntrypointFlag,
    FlagError,
    apply_entrypoint_flags,
    default_certificate_files,
    parse_entrypoint_flag,
)
from ingressctl.config.kubernetes_section import read_kubernetes
from ingressctl.config.overrides import ConfigOverrides
from ingressctl.config.ping import ping_conflict, read_ping
from ingressctl.config.positions import KeyPath, Positions
from ingressctl.config.reader import ConfigProblem, Problems, Section, dotted, show, suggest
from ingressctl.config.sections import (
    UNSUPPORTED_PROVIDERS,
    Context,
    entrypoint_name_problem,
    read_api,
    read_entrypoint,
)
from ingressctl.model.config import (
    AcmeConfig,
    ApiConfig,
    EntryPoint,
    EntryPointTLS,
    KubernetesConfig,
    StaticConfig,
)
from ingressctl.model.errors import ConfigError

LOG_LEVELS = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
    "PANIC": "CRITICAL",
}
LOG_FORMATS = {"text": "text", "common": "text", "json": "json"}

# Traefik v1 globals that change nothing important here: accepted, with a warning saying so.
_IGNORED_GLOBALS = {
    "respondingTimeouts": "timeouts are set by ingressctl",
    "forwardingTimeouts": "timeouts are set by ingressctl",
    "idleTimeout": "timeouts are set by ingressctl",
    "insecureSkipVerify": "backends are reached over plain HTTP",
    "rootCAs": "backends are reached over plain HTTP",
    "maxIdleConnsPerHost": "the upstream pool sizes itself",
    "retry": "failed requests are not retried",
    "healthcheck": "endpoint readiness comes from Kubernetes",
    "hostResolver": "the system resolver is used",
    "keepTrailingSlash": "paths keep their trailing slash",
    "tracing": "tracing is not implemented",
    "metrics": "/metrics on the API is always Prometheus format",
    "constraints": "use ingressClass to select Ingresses",
    "AllowMinWeightZero": "weights are taken as given",
}


class StaticConfigError(ConfigError):
    """Every problem found in the configuration, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _default_entrypoints() -> tuple[EntryPoint, ...]:
    # Like Traefik: plain HTTP on 80 and HTTPS on 443 (default certificate until others are loaded).
    return (
        EntryPoint(name="http", address=":80"),
        EntryPoint(name="https", address=":443", tls=EntryPointTLS()),
    )


@dataclasses.dataclass(slots=True)
class _FileValues:
    """What the file said; None means "not set" so defaults and flags can be layered."""

    entrypoints: dict[str, EntryPoint] = dataclasses.field(default_factory=dict)
    # Names declared in the file, also the invalid ones: references to them are not reported again.
    declared: set[str] = dataclasses.field(default_factory=set)
    # The entrypoint [api] entryPoint took over (it serves the API, not routes) and where it says so.
    api_entrypoint: tuple[str, KeyPath] | None = None
    default_entrypoints: tuple[str, ...] | None = None
    acme: AcmeConfig | None = None
    kubernetes: KubernetesConfig | None = None
    api: ApiConfig | None = None
    ping_address: str = ""
    manifests: tuple[str, ...] = ()
    log_level: str | None = None
    log_format: str | None = None
    access_log: bool = False
    access_log_format: str | None = None
    workers: int | None = None
    ingress_class: str | None = None
    controller_name: str | None = None
    allow_external_name_services: bool | None = None
    throttle: float | None = None
    grace: float | None = None


def _read_text(path: str) -> str:
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"{path}: configuration file not found (give an existing file to --config)")
    try:
        return file.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _parse_toml(path: str, text: str) -> dict[str, Any]:
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        message = str(exc).rsplit(" at line ", 1)[0]
        line, column = exc.line, exc.col + 1  # tomlkit counts columns from 0
        if message.endswith("'\\x00'"):
            # tomlkit's end-of-input marker, reported at 1:0: point at the file's last line instead.
            lines = text.rstrip("\n").split("\n")
            line, column = len(lines), len(lines[-1]) + 1
            message = "the file ends in the middle of a value (an unclosed [, { or quote?)"
        raise ConfigError(f"{path}:{line}:{column}: invalid TOML: {message}") from exc
    except tomlkit.exceptions.TOMLKitError as exc:
        # Some errors (a key defined twice) come without a position: find it ourselves.
        duplicates = Positions(text).duplicates
        where = f"{path}:{duplicates[0]}" if duplicates else path
        raise ConfigError(f"{where}: invalid TOML: {exc}") from exc
    unwrapped: dict[str, Any] = document.unwrap()
    return unwrapped


def _read_logs(root: Section, values: _FileValues) -> None:
    level = root.choice("logLevel", LOG_LEVELS)
    if root.boolean("debug"):
        level = "DEBUG"
    for name in ("traefikLog", "log"):
        log = root.table(name)
        if log is None:
            continue
        values.log_format = log.choice("format", LOG_FORMATS) or values.log_format
        if name == "log":
            level = log.choice("level", LOG_LEVELS) or level
        log.unsupported("filePath", "logs go to stderr")
        log.finish()
    values.log_level = level
    access = root.table("accessLog")
    if access is not None:
        values.access_log = True
        values.access_log_format = access.choice("format", {"common": "common", "json": "json"})
        access.unsupported("filePath", "the access log goes to stdout")
        access.unsupported("filters", "every request is logged")
        access.unsupported("fields", "the access log has fixed fields")
        access.unsupported("bufferingSize", "the access log is written per request")
        access.finish()


def _read_ingressctl(section: Section, ctx: Context, values: _FileValues) -> None:
    values.workers = section.integer("workers", minimum=1)
    values.ingress_class = section.string("ingressClass", example="ingressctl")
    values.controller_name = section.string("controllerName", example="ingressctl.io/ingress-controller")
    values.allow_external_name_services = section.boolean("allowExternalNameServices")
    values.throttle = section.duration("throttle")
    values.grace = section.duration("gracePeriod")
    manifests = section.str_list("manifests", example="manifests/") or ()
    values.manifests = tuple(str(ctx.resolve(m)) if m != "-" else m for m in manifests)
    section.finish()


def _has_tls(entrypoint: object) -> bool:
    return isinstance(entrypoint, dict) and any(
        key.lower() == "tls" and isinstance(value, dict) for key, value in entrypoint.items()
    )


def _read_file(root: Section, ctx: Context) -> _FileValues:
    values = _FileValues()
    values.default_entrypoints = root.str_list("defaultEntryPoints", example="http")
    _read_logs(root, values)
    root.boolean("checkNewVersion")  # never checked: nothing phones home
    root.boolean("sendAnonymousUsage")
    grace = root.duration("graceTimeOut")
    life = root.table("lifeCycle")
    if life is not None:
        grace = life.duration("graceTimeOut") or grace
        life.unsupported(
            "requestAcceptGraceTimeout", "new connections are refused as soon as shutdown starts"
        )
        life.finish()
    throttle = root.duration("providersThrottleDuration")

    entrypoints = root.table("entryPoints")
    if entrypoints is not None:
        children = entrypoints.children()
        ctx = dataclasses.replace(ctx, tls_entrypoints=tuple(n for n, v in children if _has_tls(v)))
        for name, value in children:
            values.declared.add(name)
            if not isinstance(value, dict):
                root.problems.error(
                    ("entryPoints", name),
                    f"entryPoints.{name} must be a table ([entryPoints.{name}]), got {show(value)}",
                )
                continue
            entrypoint = read_entrypoint(name, Section(root.problems, ("entryPoints", name), value), ctx)
            if entrypoint is not None:
                values.entrypoints[name] = entrypoint

    acme = root.table("acme")
    if acme is not None:
        values.acme = read_acme(acme, ctx)
    kube = root.table("kubernetes")
    if kube is not None:
        values.kubernetes, kube_throttle = read_kubernetes(kube, ctx)
        throttle = kube_throttle if kube_throttle is not None else throttle
    web, api = root.table("web"), root.table("api")
    if web is not None and api is not None:
        root.problems.error(("web",), "[web] and [api] both configure the dashboard: keep [api]")
    for section in (web, api):
        if section is not None:
            values.api, taken = read_api(section, ctx, values.entrypoints)
            if taken is not None:
                del values.entrypoints[taken]
                values.api_entrypoint = (taken, (*section.path, "entryPoint"))
    ping = root.table("ping")
    if ping is not None:
        api_entrypoint = values.api_entrypoint[0] if values.api_entrypoint is not None else None
        setting = read_ping(ping, values.entrypoints, api_entrypoint)
        values.ping_address = setting.address
        if setting.taken is not None:
            del values.entrypoints[setting.taken]
    ours = root.table("ingressctl")
    if ours is not None:
        _read_ingressctl(ours, ctx, values)
    values.throttle = values.throttle if values.throttle is not None else throttle
    values.grace = values.grace if values.grace is not None else grace

    for provider in UNSUPPORTED_PROVIDERS:
        root.unsupported(
            provider,
            "ingressctl reads Ingresses from [kubernetes] or from manifest files "
            '([ingressctl] manifests = ["dir/"]); remove this table',
            error=True,
        )
    for key, reason in _IGNORED_GLOBALS.items():
        root.unsupported(key, reason)
    root.finish()
    return values


def _apply_entrypoint_flags(
    values: _FileValues, overrides: ConfigOverrides, problems: Problems, source: str
) -> None:
    """--entrypoint NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDRS]: what the flag says wins,
    the rest of the file's entrypoint of that name stays (ingressctl.config.entrypoint_flags)."""

    def report(message: str) -> None:
        problems.items.append(ConfigProblem(-1, message))

    flags: list[EntrypointFlag] = []
    for name, spec in overrides.entrypoints:
        try:
            flag = parse_entrypoint_flag(name, spec)
        except FlagError as exc:
            report(str(exc))
            continue
        bad = entrypoint_name_problem(name)
        earlier = next((f for f in flags if f.name == name), None)
        if bad is None and earlier is not None:
            bad = f"entrypoint {name} is already given by --entrypoint {earlier.text}"
        if bad is None and values.api_entrypoint is not None and values.api_entrypoint[0] == name:
            where = f"{source}:{problems.positions.line(values.api_entrypoint[1])}"
            bad = (
                f"entrypoint {name} serves the API ({dotted(values.api_entrypoint[1])} in {where}): "
                f"use --api-address {flag.address}"
            )
        if bad is not None:
            report(f"--entrypoint {flag.text}: {bad}")
            continue
        flags.append(flag)

    def tls_line(name: str) -> str:
        return f"{source}:{problems.positions.line(('entryPoints', name, 'tls'))}"

    apply_entrypoint_flags(values.entrypoints, flags, tls_line, report)


def _apply_overrides(values: _FileValues, overrides: ConfigOverrides, problems: Problems) -> None:
    if overrides.api_address is not None or overrides.api_insecure is not None:
        api = values.api or ApiConfig()
        if overrides.api_address is not None:
            problem = address_problem(overrides.api_address)
            if problem is not None:
                problems.items.append(
                    ConfigProblem(-1, f"--api-address {show(overrides.api_address)}: {problem}")
                )
            else:
                api = dataclasses.replace(api, address=overrides.api_address)
        if overrides.api_insecure is not None:
            api = dataclasses.replace(api, insecure=overrides.api_insecure)
        values.api = api
    if overrides.ping_address is not None:
        problem = address_problem(overrides.ping_address)
        if problem is not None:
            problems.items.append(
                ConfigProblem(-1, f"--ping-address {show(overrides.ping_address)}: {problem}")
            )
        else:
            values.ping_address = overrides.ping_address
    if overrides.log_level is not None:
        level = LOG_LEVELS.get(overrides.log_level.upper())
        if level is None:
            problems.items.append(
                ConfigProblem(
                    -1,
                    f"--log-level {show(overrides.log_level)}: use one of debug, info, warning, error"
                    + suggest(overrides.log_level, ["debug", "info", "warning", "error"]),
                )
            )
        values.log_level = level or values.log_level
    if overrides.log_format is not None:
        fmt = LOG_FORMATS.get(overrides.log_format.lower())
        if fmt is None:
            problems.items.append(
                ConfigProblem(-1, f"--log-format {show(overrides.log_format)}: use text or json")
            )
        values.log_format = fmt or values.log_format
    if overrides.workers is not None:
        if overrides.workers < 1:
            problems.items.append(ConfigProblem(-1, f"--workers {overrides.workers}: must be at least 1"))
        else:
            values.workers = overrides.workers
    if overrides.access_log is not None:
        values.access_log = overrides.access_log
    if overrides.access_log_format is not None:
        fmt = overrides.access_log_format.lower()
        if fmt not in ("common", "json"):
            problems.items.append(
                ConfigProblem(
                    -1, f"--access-log-format {show(overrides.access_log_format)}: use common or json"
                )
            )
        else:
            values.access_log_format = fmt
            values.access_log = overrides.access_log if overrides.access_log is not None else True
    if overrides.manifests:
        values.manifests = tuple(overrides.manifests)
    for attr in ("ingress_class", "controller_name", "allow_external_name_services"):
        value = getattr(overrides, attr)
        if value is not None:
            setattr(values, attr, value)
    if overrides.kubeconfig is not None or overrides.kube_context is not None:
        kube = values.kubernetes or KubernetesConfig()
        values.kubernetes = dataclasses.replace(
            kube,
            kubeconfig=overrides.kubeconfig if overrides.kubeconfig is not None else kube.kubeconfig,
            context=overrides.kube_context if overrides.kube_context is not None else kube.context,
        )
    _apply_acme_overrides(values, overrides, problems)


def _apply_acme_overrides(values: _FileValues, overrides: ConfigOverrides, problems: Problems) -> None:
    if not overrides.has_acme():
        return
    acme = values.acme or AcmeConfig()
    changes: dict[str, Any] = {}
    if overrides.acme_email is not None:
        changes["email"] = overrides.acme_email
    if overrides.acme_ca_server is not None:
        changes["ca_server"] = CA_SHORTCUTS.get(overrides.acme_ca_server.lower(), overrides.acme_ca_server)
    if overrides.acme_storage is not None:
        changes["storage"] = overrides.acme_storage
    if overrides.acme_on_host_rule is not None:
        changes["on_host_rule"] = overrides.acme_on_host_rule
    if overrides.acme_on_demand is not None:
        changes["on_demand"] = overrides.acme_on_demand
    if overrides.acme_ca_bundle is not None:
        if not Path(overrides.acme_ca_bundle).is_file():
            problems.items.append(
                ConfigProblem(-1, f"--acme-ca-bundle: file {overrides.acme_ca_bundle!r} does not exist")
            )
        changes["ca_bundle"] = overrides.acme_ca_bundle
    values.acme = dataclasses.replace(acme, **changes)


def _check_references(values: _FileValues, problems: Problems) -> tuple[str, ...]:
    """Names that must exist do; returns the default entrypoints (all, when not configured)."""
    names = list(values.entrypoints)
    candidates = sorted(set(names) | values.declared)

    def undefined(path: tuple[str, ...], label: str, name: str) -> None:
        if name in values.declared:
            return  # already reported where it is defined
        problems.error(path, f'{label} "{name}" is not defined{suggest(name, candidates)}')

    for entrypoint in values.entrypoints.values():
        if entrypoint.redirect is None:
            continue
        path = ("entryPoints", entrypoint.name, "redirect", "entryPoint")
        label = f"entryPoints.{entrypoint.name}.redirect.entryPoint"
        if entrypoint.redirect.entrypoint not in values.entrypoints:
            undefined(path, label, entrypoint.redirect.entrypoint)
        elif entrypoint.redirect.entrypoint == entrypoint.name:
            problems.error(path, f"{label} redirects entrypoint {entrypoint.name!r} to itself")
    defaults = values.default_entrypoints
    if defaults is not None:
        for name in defaults:
            if name not in values.entrypoints:
                undefined(("defaultEntryPoints",), "defaultEntryPoints entry", name)
    acme = values.acme
    if acme is not None:
        target = values.entrypoints.get(acme.entrypoint)
        if target is None:
            undefined(("acme", "entryPoint"), "acme.entryPoint", acme.entrypoint)
        elif target.tls is None:
            problems.error(
                ("acme", "entryPoint"),
                f'acme.entryPoint "{acme.entrypoint}" has no TLS: add [entryPoints.{acme.entrypoint}.tls]',
            )
        if acme.challenge == "http-01" and acme.http_entrypoint not in values.entrypoints:
            undefined(
                ("acme", "httpChallenge", "entryPoint"), "acme.httpChallenge.entryPoint", acme.http_entrypoint
            )
    seen: list[EntryPoint] = []
    for entrypoint in values.entrypoints.values():
        other = next((e for e in seen if addresses_overlap(e.address, entrypoint.address)), None)
        if other is not None:
            problems.error(
                ("entryPoints", entrypoint.name, "address"),
                f"entryPoints.{entrypoint.name}.address {show(entrypoint.address)} is already used by "
                f"entrypoint {other.name!r}"
                + (f" ({show(other.address)})" if other.address != entrypoint.address else ""),
            )
        seen.append(entrypoint)
    if values.ping_address:
        conflict = ping_conflict(values.ping_address, values.entrypoints, values.api)
        if conflict is not None:
            problems.error(("ping", "address"), f"ping address {show(values.ping_address)} {conflict}")
    return defaults if defaults is not None else tuple(names)


def load_static_config(path: str | None, overrides: ConfigOverrides) -> StaticConfig:
    """The configuration `serve` runs with: file (optional) + flags (which win), fully validated."""
    source = path or "command line"
    text = _read_text(path) if path is not None else ""
    problems = Problems(Positions(text))
    values = _FileValues()
    if path is not None:
        root = Section(problems, (), _parse_toml(path, text))
        values = _read_file(root, Context(base_dir=Path(path).resolve().parent))
    if (
        path is not None
        and values.kubernetes is not None
        and values.kubernetes.ingress_class
        and values.ingress_class
        and values.kubernetes.ingress_class != values.ingress_class
    ):
        problems.error(
            ("ingressctl", "ingressClass"),
            f'ingressctl.ingressClass "{values.ingress_class}" differs from kubernetes.ingressClass '
            f'"{values.kubernetes.ingress_class}": keep one',
        )
    if not values.declared and not overrides.entrypoints:
        values.entrypoints = {e.name: e for e in _default_entrypoints()}
    _apply_entrypoint_flags(values, overrides, problems, source)
    _apply_overrides(values, overrides, problems)
    default_certificate = None
    if overrides.default_certificate is not None:
        default_certificate, problem = default_certificate_files(overrides.default_certificate)
        if problem is not None:
            problems.items.append(ConfigProblem(-1, problem))
    default_entrypoints = _check_references(values, problems)

    ordered = sorted(problems.errors, key=lambda p: p.line)
    errors = [p.render(source) if p.line >= 0 else p.message for p in ordered]
    if errors:
        raise StaticConfigError(errors)
    defaults = StaticConfig()
    ingress_class = values.ingress_class or (values.kubernetes.ingress_class if values.kubernetes else "")
    return StaticConfig(
        entrypoints=tuple(values.entrypoints.values()),
        default_entrypoints=default_entrypoints,
        acme=values.acme,
        kubernetes=values.kubernetes,
        api=values.api,
        ping_address=values.ping_address,
        manifests=values.manifests,
        log_level=values.log_level or defaults.log_level,
        log_format=values.log_format or defaults.log_format,
        access_log=values.access_log,
        access_log_format=values.access_log_format or defaults.access_log_format,
        workers=values.workers or defaults.workers,
        default_certificate=default_certificate,
        ingress_class=ingress_class or defaults.ingress_class,
        controller_name=values.controller_name or defaults.controller_name,
        allow_external_name_services=bool(values.allow_external_name_services),
        throttle_seconds=values.throttle if values.throttle is not None else defaults.throttle_seconds,
        grace_period_seconds=values.grace if values.grace is not None else defaults.grace_period_seconds,
        source=path or "",
        warnings=tuple(p.render(source) for p in problems.warnings),
    )
