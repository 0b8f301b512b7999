"""`ingressctl serve`: run the ingress controller and reverse proxy."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from ingressctl.model import ConfigError, IngressctlError, InputError, UsageError
from ingressctl.model.config import StaticConfig

if TYPE_CHECKING:
    import typer

log = logging.getLogger("ingressctl.server")


def _parse_entrypoints(values: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for value in values:
        name, sep, address = value.partition("=")
        if not sep or not name.strip() or not address.strip():
            raise UsageError(f"--entrypoint {value!r}: expected NAME=ADDRESS, e.g. --entrypoint http=:8000")
        out.append((name.strip(), address.strip()))
    return out


def load_config(
    config: str | None,
    manifests: list[str],
    entrypoints: list[str],
    api_address: str | None,
    workers: int | None,
    log_level: str | None,
    log_format: str | None,
    access_log: bool | None,
    access_log_format: str | None,
    ingress_class: str | None,
    controller_name: str | None,
    allow_external_name_services: bool | None,
    kubeconfig: str | None = None,
    kube_context: str | None = None,
) -> StaticConfig:
    """The static configuration `serve` runs with: the file, then the flags on top."""
    from ingressctl.config import ConfigOverrides, load_static_config

    overrides = ConfigOverrides(
        entrypoints=_parse_entrypoints(entrypoints),
        api_address=api_address,
        workers=workers,
        log_level=log_level,
        log_format=log_format,
        access_log=access_log,
        manifests=list(manifests),
        ingress_class=ingress_class,
        controller_name=controller_name,
        allow_external_name_services=allow_external_name_services,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
    )
    static = load_static_config(config, overrides)
    if access_log_format is not None:
        if access_log_format not in ("common", "json"):
            raise UsageError(f"--access-log-format {access_log_format!r}: use common or json")
        static = dataclasses.replace(static, access_log_format=access_log_format, access_log=True)
    if static.workers < 1:
        raise UsageError("--workers must be 1 or more")
    acme = static.acme
    if static.workers > 1 and acme is not None and (acme.on_host_rule or acme.on_demand or acme.domains):
        raise ConfigError(
            "ACME needs a single worker (challenges are answered by the process that ordered the "
            "certificate): use --workers 1 with [acme]"
        )
    if not static.manifests and static.kubernetes is None:
        raise ConfigError(
            "nothing to serve: pass --manifests PATH (a file or directory of Ingress/Service/EndpointSlice "
            "YAML) or --kubeconfig FILE, or add a [kubernetes] section (or `manifests` under [ingressctl]) "
            "to the configuration file"
        )
    if static.kubernetes is not None and not static.manifests and not _has_kubernetes_provider():
        raise ConfigError(
            "the [kubernetes] provider is not available in this build: pass --manifests PATH instead"
        )
    for path in static.manifests:
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file or directory (given to --manifests)")
    return static


def _has_kubernetes_provider() -> bool:
    try:
        importlib.import_module("ingressctl.providers.kubernetes")
    except ImportError:
        return False
    return True


def _providers(static: StaticConfig) -> list[Any]:
    providers: list[Any] = []
    if static.manifests:
        from ingressctl.providers.manifests import ManifestsProvider

        providers.append(ManifestsProvider(static.manifests))
    if static.kubernetes is not None and _has_kubernetes_provider():
        kube = importlib.import_module("ingressctl.providers.kubernetes")

        factory = getattr(kube, "provider_from_config", None) or getattr(kube, "KubernetesProvider", None)
        if factory is not None:
            providers.append(factory(static.kubernetes))
    return providers


def _certificate_store(static: StaticConfig) -> Any:
    """The certificate store shared by every TLS entrypoint (None without TLS entrypoints)."""
    if not any(ep.tls is not None for ep in static.entrypoints):
        return None
    from ingressctl.tls.store import CertificateStore

    store = CertificateStore()
    for problem in store.load_static(static):
        log.warning("%s", problem)
    return store


def _acme(static: StaticConfig, store: Any, first_worker: bool) -> Any:
    """The ACME integration when [acme] is configured (in the first worker only: one orderer)."""
    if static.acme is None or not first_worker:
        return None
    if store is None:
        log.warning("[acme] is configured but no entrypoint uses TLS: no certificates will be requested")
        return None
    from ingressctl.server.acme import AcmeIntegration

    return AcmeIntegration(static.acme, store)


def _parts(static: StaticConfig, sockets: dict[str, socket.socket], serve_api: bool) -> Any:
    from ingressctl.server import RuntimeState, ServerParts

    observer: Any = None
    start_api: Any = None
    on_reload: Any = None
    api_config = static.api
    api_start: Any = None
    try:
        from ingressctl.api.app import start_api as api_start
        from ingressctl.api.metrics import Metrics
    except ImportError:  # a build without the API: the server's own /ping stands in
        pass
    if api_start is not None:
        metrics = Metrics()
        observer = metrics
        on_reload = getattr(metrics, "on_reload", None)
        if api_config is not None:

            async def start_api(state: RuntimeState) -> Any:
                assert api_config is not None
                return await api_start(state, metrics, api_config)

    elif api_config is not None:
        from ingressctl.server.ping import start_ping_api

        async def start_api(state: RuntimeState) -> Any:
            assert api_config is not None
            return await start_ping_api(state, api_config.address)

    tls = _certificate_store(static)
    acme = _acme(static, tls, serve_api)
    return ServerParts(
        providers=_providers(static),
        observer=observer,
        start_api=start_api,
        on_reload=on_reload,
        tls=tls,
        acme=acme,
        sockets=sockets,
        reuse_port=static.workers > 1,
        serve_api=serve_api,
    )


def run(static: StaticConfig) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code."""
    from ingressctl.server import install_uvloop, run_server

    if static.workers > 1:
        from ingressctl.server.workers import supervise

        def worker_main(index: int, sockets: dict[str, socket.socket]) -> None:
            install_uvloop()
            asyncio.run(run_server(static, _parts(static, sockets, serve_api=index == 0)))

        return supervise(static, static.workers, worker_main)
    install_uvloop()
    asyncio.run(run_server(static, _parts(static, {}, serve_api=True)))
    return 0


def main_fast(argv: list[str]) -> int | None:
    """`ingressctl serve ARGS` without Typer and the other commands (None: let Typer handle it).

    A long-running server should not carry what it never uses: going through the full CLI loads
    every command group and Typer's pydantic adapter (about 25 MB of resident memory). The entry
    point may call this first for `serve`; help output stays Typer's.
    """
    import argparse

    if any(arg in ("-h", "--help") for arg in argv):
        return None
    parser = argparse.ArgumentParser(prog="ingressctl serve", add_help=False, allow_abbrev=False)
    parser.add_argument("--config", "-c")
    parser.add_argument("--manifests", "-m", action="append", default=[])
    parser.add_argument("--entrypoint", action="append", default=[])
    parser.add_argument("--api-address")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--log-level")
    parser.add_argument("--log-format")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--access-log-format")
    parser.add_argument("--ingress-class")
    parser.add_argument("--controller-name")
    parser.add_argument("--allow-external-name-services", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    args = parser.parse_args(argv)  # a usage error exits 2 with argparse's one-line message
    try:
        return _serve(
            args.config,
            args.manifests,
            args.entrypoint,
            args.api_address,
            args.workers,
            args.log_level,
            args.log_format,
            args.access_log,
            args.access_log_format,
            args.ingress_class,
            args.controller_name,
            args.allow_external_name_services,
            args.kubeconfig,
            args.context,
        )
    except IngressctlError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _serve(*options: Any) -> int:
    from ingressctl.logging_setup import configure_logging

    static = load_config(*options)
    configure_logging(static.log_level, static.log_format)
    for warning in static.warnings:
        log.warning("%s", warning)
    return run(static)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    import typer

    @app.command("serve")
    def serve(
        config: str | None = typer.Option(None, "--config", "-c", help="traefik.toml (Traefik v1 subset)."),
        manifests: list[str] = typer.Option(
            [], "--manifests", "-m", help="File or directory of manifests to serve (repeatable; watched)."
        ),
        entrypoint: list[str] = typer.Option(
            [], "--entrypoint", help="NAME=ADDRESS, e.g. http=:8000 (repeatable; overrides the file)."
        ),
        api_address: str | None = typer.Option(None, "--api-address", help="Address of the API/dashboard."),
        workers: int | None = typer.Option(
            None, "--workers", help="Processes sharing the ports (default 1)."
        ),
        log_level: str | None = typer.Option(None, "--log-level", help="debug, info, warning, error."),
        log_format: str | None = typer.Option(None, "--log-format", help="text or json."),
        access_log: bool | None = typer.Option(
            None, "--access-log/--no-access-log", help="Log every request."
        ),
        access_log_format: str | None = typer.Option(
            None, "--access-log-format", help="common or json (implies --access-log)."
        ),
        ingress_class: str | None = typer.Option(None, "--ingress-class", help="Ingress class to serve."),
        controller_name: str | None = typer.Option(
            None, "--controller-name", help="IngressClass spec.controller we claim."
        ),
        allow_external_name_services: bool | None = typer.Option(
            None,
            "--allow-external-name-services/--no-allow-external-name-services",
            help="Proxy to ExternalName Services (off: an Ingress author could point us at any host).",
        ),
        kubeconfig: str | None = typer.Option(
            None, "--kubeconfig", help="Read Ingresses from the cluster of this kubeconfig."
        ),
        context: str | None = typer.Option(None, "--context", help="kubeconfig context to use."),
    ) -> None:
        """Run the ingress controller: serve the routes built from the manifests, reloading on change."""
        code = _serve(
            config,
            manifests,
            entrypoint,
            api_address,
            workers,
            log_level,
            log_format,
            access_log,
            access_log_format,
            ingress_class,
            controller_name,
            allow_external_name_services,
            kubeconfig,
            context,
        )
        raise typer.Exit(code)
