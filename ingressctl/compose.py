"""The composition root: the server's parts built from the static configuration.

`ingressctl serve` (cli/serve_cmd.py) turns flags and the configuration file into a StaticConfig and
ClusterSettings; this module chooses and builds what runs — providers, the certificate store, ACME
(file or Secret storage, with the cluster's leader), the API or the bare /ping, leadership and
status — and hands them to ingressctl.server as ServerParts (typed by server/ports.py). Kept out of
the CLI so that the CLI parses and reports, and the wiring of parts has one home.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import os
import socket
from typing import TYPE_CHECKING

from ingressctl.model import ConfigError
from ingressctl.model.config import StaticConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ingressctl.acme.storage import BlobAcmeStorage
    from ingressctl.api.metrics import Metrics
    from ingressctl.model import Ingress, Snapshot
    from ingressctl.model.config import ApiConfig
    from ingressctl.providers.base import Provider
    from ingressctl.providers.kubernetes import KubernetesProvider, SecretStore
    from ingressctl.proxy import ProxyObserver
    from ingressctl.server import RuntimeState, ServerParts
    from ingressctl.server.acme import AcmeIntegration
    from ingressctl.server.cluster import ClusterControl, ClusterSettings
    from ingressctl.server.run import ApiStarter, Closer
    from ingressctl.tls.store import CertificateStore

    # ingressctl.api.app.start_api, as the composition root calls it.
    FullApiStarter = Callable[[RuntimeState, Metrics, ApiConfig], Awaitable[Closer | None]]

log = logging.getLogger("ingressctl.server")


def has_kubernetes_provider() -> bool:
    try:
        importlib.import_module("ingressctl.providers.kubernetes")
    except ImportError:
        return False
    return True


def _kubernetes_provider(static: StaticConfig) -> KubernetesProvider:
    from ingressctl.providers.kubernetes import KubernetesProvider
    from ingressctl.server.run import server_compile_options

    assert static.kubernetes is not None
    return KubernetesProvider(static.kubernetes, gateway=server_compile_options(static).gateway)


def _providers(static: StaticConfig, kubernetes: KubernetesProvider | None) -> list[Provider]:
    providers: list[Provider] = []
    if static.manifests:
        from ingressctl.providers.manifests import ManifestsProvider

        providers.append(ManifestsProvider(static.manifests))
    if kubernetes is not None:
        providers.append(kubernetes)
    return providers


def _certificate_store(static: StaticConfig) -> CertificateStore | None:
    """The certificate store shared by every TLS entrypoint (None without TLS entrypoints)."""
    if not any(ep.tls is not None for ep in static.entrypoints):
        return None
    from ingressctl.tls.store import CertificateStore

    store = CertificateStore(default=default_certificate(static))
    for problem in store.load_static(static):
        log.warning("%s", problem)
    return store


def default_certificate(static: StaticConfig) -> tuple[bytes, bytes] | None:
    """The --default-certificate pair, checked (ConfigError naming the flag), or None: generate one."""
    files = static.default_certificate
    if files is None:
        return None
    from ingressctl.tls.pem import CertificateError, parse_pair

    flag = f"--default-certificate {files.cert_file},{files.key_file}"
    try:
        with open(files.cert_file, "rb") as cert, open(files.key_file, "rb") as key:
            pair = cert.read(), key.read()
        parse_pair(*pair, cert_name=files.cert_file, key_name=files.key_file)
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot read {exc.filename}: {exc.strerror or exc}") from None
    except CertificateError as exc:
        raise ConfigError(f"{flag}: {exc}") from None
    return pair


def _acme(
    static: StaticConfig,
    store: CertificateStore | None,
    first_worker: bool,
    kubernetes: KubernetesProvider | None,
    cluster: ClusterControl | None,
    metrics: Metrics | None,
) -> AcmeIntegration | None:
    """The ACME integration when [acme] is configured.

    File storage: the first worker only (one orderer). Secret storage: every replica serves the stored
    certificates and answers HTTP-01 for the leader's orders; the leader (of the Lease) orders.
    """
    acme = static.acme
    if acme is None:
        return None
    if store is None:
        if first_worker:
            log.warning("[acme] is configured but no entrypoint uses TLS: no certificates will be requested")
        return None
    from ingressctl.server.acme import AcmeIntegration
    from ingressctl.server.acme_shared import OnDemandRelay, SharedChallenges

    if not acme.storage.startswith("secret:"):
        if not first_worker:
            return None
        if cluster is not None and cluster.settings.leader_election:
            log.warning(
                "ACME: storage %s is this replica's own file: every replica orders its own certificates "
                "and answers only its own challenges. With more than one replica use "
                'storage = "secret:NAMESPACE/NAME" (or --acme-storage secret:NAMESPACE/NAME)',
                acme.storage,
            )
        return AcmeIntegration(acme, store, metrics=metrics)
    from ingressctl.acme.storage import BlobAcmeStorage
    from ingressctl.providers.kubernetes import SecretStore

    spec = acme.storage
    assert kubernetes is not None, "load_config refuses secret: storage without the cluster"
    connection = kubernetes.connection
    namespace, sep, name = spec.removeprefix("secret:").partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ConfigError(
            f"acme storage {spec!r}: expected secret:NAMESPACE/NAME (e.g. secret:ingressctl/acme)"
        )

    def storage() -> BlobAcmeStorage:
        return BlobAcmeStorage(SecretStore.from_spec(spec, connection))

    def ledger() -> SecretStore:
        # The rate-limit ledger and order journal: next to the certificates, so a new leader (or a
        # restarted pod) sees every order placed before it.
        return SecretStore(connection, namespace, f"{name}-ratelimits", key="ratelimits.json")

    def challenges() -> SecretStore:
        # Pending HTTP-01 answers live in a Secret of their own: the certificates' Secret is
        # rewritten whole by each save, and answers change far more often.
        return SecretStore(connection, namespace, f"{name}-http01", key="http01.json")

    def on_demand_requests() -> SecretStore:
        # Followers' SNI misses for the leader to gate and order (onDemand).
        return SecretStore(connection, namespace, f"{name}-ondemand", key="requests.json")

    if acme.challenge == "tls-alpn-01" and cluster is not None and cluster.settings.leader_election:
        log.warning(
            "ACME: with several replicas only the leader can answer TLS-ALPN-01 (the challenge certificate "
            "is not shared); use [acme.httpChallenge] so that any replica the CA reaches can answer"
        )
    reload_seconds = float(os.environ.get("INGRESSCTL_ACME_RELOAD_SECONDS") or 10.0)
    return AcmeIntegration(
        acme,
        store,
        storage=storage,
        ledger=ledger,
        shared_challenges=SharedChallenges(challenges),
        cluster=cluster,
        metrics=metrics,
        reload_seconds=reload_seconds,
        on_demand_relay=OnDemandRelay(on_demand_requests),
    )


def _parts(
    static: StaticConfig,
    settings: ClusterSettings | None,
    sockets: dict[str, socket.socket],
    serve_api: bool,
    worker: int | None = None,
) -> ServerParts:
    from ingressctl.server import ServerParts

    observer: ProxyObserver | None = None
    metrics: Metrics | None = None
    start_api: ApiStarter | None = None
    on_reload: Callable[[bool, float], None] | None = None
    api_config = static.api
    api = _load_api()
    if api is not None:
        api_start, metrics = api[0], api[1]()
        observer = metrics
        on_reload = metrics.on_reload
        if api_config is not None:
            api_metrics = metrics

            async def start_api(state: RuntimeState) -> Closer | None:
                assert api_config is not None
                return await api_start(state, api_metrics, api_config)

    elif api_config is not None:
        from ingressctl.server.ping import start_ping_api

        async def start_api(state: RuntimeState) -> Closer | None:
            assert api_config is not None
            return await start_ping_api(state, api_config.address)

    if static.ping_address:
        from ingressctl.server.ping import with_ping_listener

        start_api = with_ping_listener(start_api, static.ping_address)
    kubernetes = _kubernetes_provider(static) if static.kubernetes is not None else None
    cluster = _cluster(static, settings, kubernetes, worker) if kubernetes is not None else None
    tls = _certificate_store(static)
    acme = _acme(static, tls, serve_api, kubernetes, cluster, metrics)
    return ServerParts(
        providers=_providers(static, kubernetes),
        observer=observer,
        start_api=start_api,
        on_reload=on_reload,
        tls=tls,
        acme=acme,
        cluster=cluster,
        sockets=sockets,
        reuse_port=static.workers > 1,
        serve_api=serve_api,
    )


def _load_api() -> tuple[FullApiStarter, type[Metrics]] | None:
    """The API's starter and metrics, or None in a build without the API (the server's /ping stands in)."""
    try:
        from ingressctl.api.app import start_api
        from ingressctl.api.metrics import Metrics
    except ImportError:
        return None
    return start_api, Metrics


def _cluster(
    static: StaticConfig, settings: ClusterSettings | None, kubernetes: KubernetesProvider, worker: int | None
) -> ClusterControl:
    from ingressctl.routing.classes import ClassSelector
    from ingressctl.server.cluster import ClusterControl, ClusterSettings, replica_identity
    from ingressctl.server.run import server_compile_options

    compile_options = server_compile_options(static)

    def served(snapshot: Snapshot) -> list[Ingress]:
        selector = ClassSelector(snapshot.ingress_classes, compile_options)
        return [i for i in snapshot.ingresses if selector.select(i) is None]

    if settings is None:
        settings = ClusterSettings()  # run() called without the serve flags: their defaults
    if worker is not None:
        # Each worker process is a replica of its own: $POD_NAME alone would make them all "the leader".
        settings = dataclasses.replace(settings, identity=f"{replica_identity()}-w{worker}")
    return ClusterControl(kubernetes, settings, served)


def run(static: StaticConfig, settings: ClusterSettings | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code. `settings`: leadership and status (from the
    serve flags and [kubernetes]; the defaults when not given)."""
    from ingressctl.server import install_uvloop, run_server

    opts = settings
    if static.workers > 1:
        from ingressctl.server.workers import supervise

        def worker_main(index: int, sockets: dict[str, socket.socket]) -> None:
            install_uvloop()
            asyncio.run(run_server(static, _parts(static, opts, sockets, serve_api=index == 0, worker=index)))

        return supervise(static, static.workers, worker_main)
    install_uvloop()
    asyncio.run(run_server(static, _parts(static, opts, {}, serve_api=True)))
    return 0
