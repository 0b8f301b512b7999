"""`ingressctl serve`: run the ingress controller and reverse proxy."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import TYPE_CHECKING

from ingressctl import compose
from ingressctl.model import ConfigError, InputError, UsageError
from ingressctl.model.config import KubernetesConfig, StaticConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import typer

    from ingressctl.api.metrics import Metrics
    from ingressctl.cli.serve_flags import FlagValues
    from ingressctl.model.config import ApiConfig
    from ingressctl.server import RuntimeState
    from ingressctl.server.cluster import ClusterSettings
    from ingressctl.server.run import Closer

    # ingressctl.api.app.start_api, as the composition root calls it.
    FullApiStarter = Callable[[RuntimeState, Metrics, ApiConfig], Awaitable[Closer | None]]

log = logging.getLogger("ingressctl.server")


def _parse_entrypoints(values: list[str]) -> list[tuple[str, str]]:
    from ingressctl.config.entrypoint_flags import FlagError, split_entrypoint_value

    try:
        return [split_entrypoint_value(value) for value in values]
    except FlagError as exc:
        raise UsageError(str(exc)) from None


@dataclasses.dataclass(frozen=True, slots=True)
class ServeOptions:
    """Every `serve` flag, as given (None/empty: not given). Filled by argparse or by Typer."""

    config: str | None = None
    manifests: tuple[str, ...] = ()
    entrypoints: tuple[str, ...] = ()
    api_address: str | None = None
    api_insecure: bool | None = None
    ping_address: str | None = None
    check: bool = False
    workers: int | None = None
    log_level: str | None = None
    log_format: str | None = None
    access_log: bool | None = None
    access_log_format: str | None = None
    ingress_class: str | None = None
    controller_name: str | None = None
    watch_ingress_without_class: str | None = None
    ignore_snippets: bool = False
    gateway: bool = False
    gateway_controller_name: str | None = None
    gateway_class: str | None = None
    gateway_mirror_body_limit: int | None = None
    allow_external_name_services: bool | None = None
    kubernetes: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    label_selector: str | None = None
    publish_service: str | None = None
    publish_address: str | None = None
    leader_election: bool | None = None
    leader_election_namespace: str | None = None
    leader_election_id: str | None = None
    leader_election_lease_duration: int | None = None
    acme_storage: str | None = None
    default_certificate: str | None = None


def _takeover_flags(static: StaticConfig, options: ServeOptions) -> StaticConfig:
    """--watch-ingress-without-class and --ignore-snippets (ingress-nginx takeover, routing/takeover.py)."""
    from ingressctl.routing.takeover import parse_watch_without_class

    watch = parse_watch_without_class(options.watch_ingress_without_class)
    if watch is None and not options.ignore_snippets:
        return static
    return dataclasses.replace(
        static,
        watch_ingress_without_class=watch,
        ignore_snippets=options.ignore_snippets or static.ignore_snippets,
    )


def load_config(options: ServeOptions) -> StaticConfig:
    """The static configuration `serve` runs with: the file, then the flags on top."""
    from ingressctl.config import ConfigOverrides, load_static_config

    overrides = ConfigOverrides(
        entrypoints=_parse_entrypoints(list(options.entrypoints)),
        api_address=options.api_address,
        api_insecure=options.api_insecure,
        ping_address=options.ping_address,
        workers=options.workers,
        log_level=options.log_level,
        log_format=options.log_format,
        access_log=options.access_log,
        manifests=list(options.manifests),
        ingress_class=options.ingress_class,
        controller_name=options.controller_name,
        allow_external_name_services=options.allow_external_name_services,
        kubeconfig=options.kubeconfig,
        kube_context=options.context,
        acme_storage=options.acme_storage,
        default_certificate=options.default_certificate,
    )
    static = load_static_config(options.config, overrides)
    if options.access_log_format is not None:
        if options.access_log_format not in ("common", "json"):
            raise UsageError(f"--access-log-format {options.access_log_format!r}: use common or json")
        static = dataclasses.replace(static, access_log_format=options.access_log_format, access_log=True)
    if static.workers < 1:
        raise UsageError("--workers must be 1 or more")
    static = _takeover_flags(static, options)
    if options.gateway or options.gateway_class or options.gateway_controller_name:
        static = dataclasses.replace(
            static,
            gateway=True,
            gateway_controller_name=options.gateway_controller_name or static.gateway_controller_name,
            gateway_class=options.gateway_class or static.gateway_class,
        )
    if options.gateway_mirror_body_limit is not None:
        if options.gateway_mirror_body_limit < 0:
            raise UsageError("--gateway-mirror-body-limit must be 0 or more (bytes)")
        static = dataclasses.replace(static, gateway_mirror_body_limit=options.gateway_mirror_body_limit)
    if options.kubernetes and static.kubernetes is None:
        static = dataclasses.replace(static, kubernetes=KubernetesConfig())
    static = _kubernetes_flags(static, options)
    acme = static.acme
    ordering = acme is not None and (acme.on_host_rule or acme.on_demand or acme.domains)
    if static.workers > 1 and acme is not None and ordering:
        # Workers share nothing but the kernel's ports: only Secret storage (shared HTTP-01 answers,
        # one leader among the workers) lets a worker answer a challenge another one ordered.
        shared = (
            acme.storage.startswith("secret:")
            and acme.challenge == "http-01"
            and options.leader_election is not False
        )
        if not shared:
            raise ConfigError(
                'ACME with --workers > 1 needs storage = "secret:NAMESPACE/NAME" (with --kubernetes), the '
                "HTTP-01 challenge and leader election: challenges are otherwise answered only by the "
                "process that ordered the certificate. Use --workers 1 with [acme]"
            )
    if acme is not None and acme.storage.startswith("secret:") and static.kubernetes is None:
        raise ConfigError(
            f"acme storage {acme.storage!r} is a Kubernetes Secret: add --kubernetes (or a [kubernetes] "
            "section), or store certificates in a file (--acme-storage acme.json)"
        )
    if not static.manifests and static.kubernetes is None:
        raise ConfigError(
            "nothing to serve: pass --manifests PATH (a file or directory of Ingress/Service/EndpointSlice "
            "YAML) or --kubernetes (with --kubeconfig FILE outside a cluster), or add a [kubernetes] section "
            "(or `manifests` under [ingressctl]) to the configuration file"
        )
    if static.kubernetes is not None and not compose.has_kubernetes_provider():
        raise ConfigError(
            "the [kubernetes] provider is not available in this build: pass --manifests PATH instead"
        )
    for path in static.manifests:
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file or directory (given to --manifests)")
    compose.default_certificate(static)  # a pair that cannot be served is exit 2 before any port is bound
    return static


_CLUSTER_ONLY = (
    ("--namespace", "namespaces"),
    ("--label-selector", "label_selector"),
    ("--publish-service", "publish_service"),
    ("--publish-address", "publish_address"),
    ("--leader-election", "leader_election"),
    ("--leader-election-namespace", "leader_election_namespace"),
    ("--leader-election-id", "leader_election_id"),
    ("--leader-election-lease-duration", "leader_election_lease_duration"),
)


def _kubernetes_flags(static: StaticConfig, options: ServeOptions) -> StaticConfig:
    """Apply --namespace/--label-selector/--publish-*; refuse cluster-only flags without a cluster."""
    kube = static.kubernetes
    if kube is None:
        given = [flag for flag, attr in _CLUSTER_ONLY if getattr(options, attr) not in (None, ())]
        if given:
            raise UsageError(
                f"{', '.join(given)} only apply with --kubernetes: add --kubernetes (or --kubeconfig FILE) "
                "or drop them"
            )
        return static
    for namespace in options.namespaces:
        if not namespace.strip():
            raise UsageError("--namespace: empty namespace name; omit it to watch all namespaces")
    if options.namespaces:
        namespaces = tuple(dict.fromkeys(n.strip() for n in options.namespaces))
        kube = dataclasses.replace(kube, namespaces=namespaces)
    if options.label_selector is not None:
        kube = dataclasses.replace(kube, label_selector=options.label_selector)
    if options.publish_service is not None and options.publish_address is not None:
        raise UsageError("--publish-service and --publish-address both set the status address: give one")
    # Either flag replaces the whole [kubernetes.ingressEndpoint] of the file.
    if options.publish_service is not None:
        kube = dataclasses.replace(kube, publish_service=options.publish_service, publish_address="")
    if options.publish_address is not None:
        kube = dataclasses.replace(kube, publish_service="", publish_address=options.publish_address)
    duration = options.leader_election_lease_duration
    if duration is not None and duration < 2:
        raise UsageError("--leader-election-lease-duration: at least 2 seconds")
    return dataclasses.replace(static, kubernetes=kube)


def cluster_settings(options: ServeOptions, kube: KubernetesConfig | None = None) -> ClusterSettings:
    """Leadership and status settings (UsageError for a malformed address).

    The status address comes from `kube` (the configuration file's ingressEndpoint with the
    --publish-* flags applied by load_config); without it, from the flags alone.
    """
    from ingressctl.providers.kubernetes.address import parse_publish_address, parse_publish_service
    from ingressctl.server.cluster import ClusterSettings

    if kube is not None:
        publish_service, publish_address = kube.publish_service, kube.publish_address
    else:
        publish_service, publish_address = options.publish_service or "", options.publish_address or ""
    if publish_service:
        parse_publish_service(publish_service)
    if publish_address:
        parse_publish_address(publish_address)
    defaults = ClusterSettings()
    return ClusterSettings(
        publish_service=publish_service,
        publish_address=publish_address,
        leader_election=options.leader_election is not False,
        election_namespace=options.leader_election_namespace or "",
        election_id=options.leader_election_id or defaults.election_id,
        lease_duration=options.leader_election_lease_duration or defaults.lease_duration,
    )


def main_fast(argv: list[str]) -> int | None:
    """`ingressctl serve ARGS` without Typer and the other commands (None: let Typer handle it).

    A long-running server should not carry what it never uses: going through the full CLI loads
    every command group and Typer's pydantic adapter (about 25 MB of resident memory). The entry
    point may call this first for `serve`; help output stays Typer's.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        return None
    from ingressctl.cli.failure import run_lean
    from ingressctl.cli.serve_flags import (
        EnvironmentValueError,
        argument_parser,
        environment_values,
        parsed_values,
    )

    args = argument_parser().parse_args(argv)  # a usage error exits 2 with argparse's one-line message

    def serve() -> int:
        try:
            values = environment_values(vars(args), os.environ)
        except EnvironmentValueError as exc:
            raise UsageError(str(exc)) from None
        return _serve(ServeOptions(**parsed_values(values)))

    return run_lean(serve)  # exit codes come from cli/failure.py, as for every command


def _serve(options: ServeOptions) -> int:
    from ingressctl.logging_setup import configure_logging

    static = load_config(options)
    settings = None
    if static.kubernetes is not None:
        settings = cluster_settings(options, static.kubernetes)  # a malformed --publish-* is exit 2 now
        from ingressctl.providers.kubernetes import connect

        # Reads the kubeconfig / service account files only (no request): a broken one is exit 2 now,
        # not a server that runs without routes.
        connect(static.kubernetes).close()
    if options.check:
        from ingressctl.cli.serve_check import run_check

        return run_check(static)
    configure_logging(static.log_level, static.log_format)
    for warning in static.warnings:
        log.warning("%s", warning)
    return compose.run(static, settings)


SERVE_HELP = """Run the ingress controller: serve the routes built from the manifests or the cluster.

Routes come from --manifests (files, watched) and/or --kubernetes (the API, watched); given both, the
two are merged into one table (a cluster's Ingress and a file's Ingress for the same host and path
conflict like any two Ingresses). With --kubernetes a Service or Secret an Ingress names but the
cluster lacks is an error (503 for its routes). Replicas elect a leader with a Lease
(coordination.k8s.io/v1; namespace from --leader-election-namespace, else $POD_NAMESPACE, identity
$POD_NAME): only the leader writes Ingress status and orders ACME certificates. With
--acme-storage secret:NS/NAME every replica serves the stored certificates (followers read the Secret
every 10 s, $INGRESSCTL_ACME_RELOAD_SECONDS), answers HTTP-01 for the leader's orders (Secret NAME-http01)
and hands onDemand names to the leader (Secret NAME-ondemand).

Entrypoints: --entrypoint NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDR;CIDR][,h2c][,no-h2] defines
one, or changes the entrypoint of --config with that name: what the flag says wins (the address always;
tls, the redirect and the PROXY protocol's trusted addresses when given), the rest of the file's entrypoint
(its certificates, auth, forwardedHeaders, and redirect or proxyProtocol when the flag names none) stays. A
TLS entrypoint of the file needs ,tls in the flag: leaving it out is refused, never a silent plain HTTP.
":PORT" (and "[::]:PORT") listens on IPv6 and IPv4, "0.0.0.0:PORT" on IPv4 only.

Every flag can also come from the environment variable shown next to it (INGRESSCTL_ and the flag's
name, upper case, '-' as '_'); a flag on the command line wins. Repeatable flags take several values
separated by spaces there, switches 1/true/yes or 0/false/no.

Probes: --ping-address ADDR (ping.address in the file) serves /ping and /ready alone, without
authentication, so the API can stay on loopback or behind basic auth. --check loads and compiles
everything (one LIST of the cluster), prints the routes and every problem and exits 0/1/2 without
listening.

SIGHUP re-reads the manifests and recompiles the routes (the cluster is watched, SIGHUP does not re-list
it); the config file and the files it names (certificates, usersFile) are read at start: restart to apply
changes to them.
"""


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    import typer

    from ingressctl.cli.serve_flags import parsed_values, typer_command

    def serve(values: FlagValues) -> None:
        raise typer.Exit(_serve(ServeOptions(**parsed_values(values))))

    app.command("serve", help=SERVE_HELP)(typer_command(serve))
