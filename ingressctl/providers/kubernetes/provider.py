"""The Kubernetes provider: one watch stream per kind and scope, whole Snapshots published from the cache.

- One *stream* per kind and scope: Ingress, IngressClass, Service, EndpointSlice (legacy Endpoints
  when the server does not serve discovery.k8s.io/v1) and Secret; namespaced kinds get one stream
  per watched namespace, or one cluster-wide stream when no namespaces are given (`watch`).
- Each stream runs in its own thread, because the client blocks. Errors (unreachable, 401, 403, ...)
  become one line in the provider status, and the stream keeps retrying; the cache, and so the last
  published Snapshot, stays as it was. The log says each problem once, reminds every few minutes
  while it lasts and notes the recovery (`problems`); status writes and the leader Lease log the same way.
- Threads hand typed events (`watch.StreamEvent`) to the event loop through a queue; the loop applies
  them to the cache, drains whatever else is queued (bursts become one update) and publishes a
  Snapshot built from the whole cache. Nothing blocking runs on the event loop.
- Secrets: one stream per scope watches *all* Secrets (minus types that can never hold a certificate
  or htpasswd users, filtered by the server with a field selector) and the Snapshot keeps only those
  an Ingress references. A watch per referenced name would mean hundreds of connections for a large
  cluster, restarted every time an Ingress changes, racing with the Secret's own creation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Sequence

from ingressctl.model import ConfigError, Ingress, Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.model.gateway import GatewayStatusReport
from ingressctl.providers.base import ProviderStatus, ProviderUpdate, Publish, ReportStatus
from ingressctl.providers.kubernetes.address import (
    PodReference,
    PublishAddress,
    RunningAddress,
    address_from_service,
    parse_publish_address,
    parse_publish_service,
)
from ingressctl.providers.kubernetes.cache import Cache
from ingressctl.providers.kubernetes.client import Connection, KubeApi, connect
from ingressctl.providers.kubernetes.gateway_status import GatewayStatusWriter
from ingressctl.providers.kubernetes.kinds import INGRESS, Key, Kind
from ingressctl.providers.kubernetes.observed import Observed
from ingressctl.providers.kubernetes.problems import ProblemLog
from ingressctl.providers.kubernetes.status import IngressState, StatusWriter, running_address
from ingressctl.providers.kubernetes.watch import (
    Deleted,
    KindSwitched,
    Listed,
    StreamEvent,
    StreamFailed,
    StreamWorker,
    StreamWorking,
    Timing,
    Upserted,
    stream_specs,
)

log = logging.getLogger(__package__)  # one logger for the whole provider


class KubernetesProvider:
    """Publishes a Snapshot of the cluster's Ingresses, Services, endpoints, Secrets and IngressClasses.

    config: the `[kubernetes]` settings (endpoint/token/certAuthFilePath, kubeconfig/context).
    namespaces / label_selector: override `config.namespaces` / `config.label_selector` when given
      (the label selector applies to Ingresses only; the ingress class is the compiler's business).
    serviceaccount_dir: where the in-cluster token/ca.crt/namespace files are
      (default `$INGRESSCTL_SERVICEACCOUNT_DIR`, else /var/run/secrets/kubernetes.io/serviceaccount).
    timing: watch/stall/request timeouts and the back-off.
    connection: an already built Connection (tests, or sharing one with the leader elector).
    gateway: watch the Gateway API kinds too (`serve --gateway`).
    """

    name = "kubernetes"

    def __init__(
        self,
        config: KubernetesConfig,
        *,
        namespaces: Sequence[str] | None = None,
        label_selector: str | None = None,
        serviceaccount_dir: str | None = None,
        timing: Timing | None = None,
        connection: Connection | None = None,
        gateway: bool = False,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.namespaces = tuple(config.namespaces if namespaces is None else namespaces)
        self.label_selector = config.label_selector if label_selector is None else label_selector
        self.serviceaccount_dir = serviceaccount_dir
        self.timing = timing or Timing()
        self._connection = connection
        self._workers: list[StreamWorker] = []
        self._cache = Cache()
        self._errors: dict[str, str] = {}
        self._last_sync: float | None = None
        self._last_published: Snapshot | None = None
        self._last_status: ProviderStatus | None = None
        # Shared by the streams (keyed by stream id) and the status writer.
        self._problems = ProblemLog(
            log, reminder=self.timing.problem_reminder, settle=self.timing.problem_settle
        )
        self._status_writer = StatusWriter(self._problems)
        self._gateway_status_writer = GatewayStatusWriter(self._problems)

    # ---------------------------------------------------------------- connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = connect(
                self.config,
                sa_dir=self.serviceaccount_dir,
                pool_size=len(stream_specs(self.namespaces, "", gateway=self.gateway)) + 4,
            )
        return self._connection

    def api(self) -> KubeApi:
        return KubeApi(
            self.connection,
            connect_timeout=self.timing.connect_timeout,
            request_timeout=self.timing.request_timeout,
        )

    # ---------------------------------------------------------------- watch loop

    async def run(self, publish: Publish, report: ReportStatus) -> None:
        try:
            api = await asyncio.to_thread(self.api)
        except ConfigError as exc:  # nothing to retry: the configuration itself is wrong
            report(ProviderStatus(self.name, healthy=False, message=str(exc)))
            raise
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[StreamEvent] = asyncio.Queue()

        def emit(event: StreamEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        specs = stream_specs(self.namespaces, self.label_selector, gateway=self.gateway)
        self._cache = Cache()
        for spec in specs:
            self._cache.add_stream(spec.id, spec.kind)
        self._workers = [StreamWorker(api, spec, self.timing, emit, self._problems) for spec in specs]
        scope = ", ".join(self.namespaces) or "all namespaces"
        log.info(
            "kubernetes: watching %s (%s) at %s via %s%s",
            scope,
            ", ".join(s.id for s in specs),
            api.endpoint,
            self.connection.source,
            f", Ingresses matching {self.label_selector!r}" if self.label_selector else "",
        )
        report(ProviderStatus(self.name, healthy=False, message=f"listing from {api.endpoint}", logged=True))
        for worker in self._workers:
            worker.start()
        try:
            while True:
                changed = self._apply(await queue.get())
                while not queue.empty():
                    changed = self._apply(queue.get_nowait()) or changed
                if changed and self._cache.synced:
                    snapshot, diagnostics = self._cache.snapshot()
                    if snapshot != self._last_published:
                        self._last_published = snapshot
                        self._last_sync = time.time()
                        publish(ProviderUpdate(self.name, snapshot, diagnostics))
                self._report(report)
        finally:
            await self._stop_workers()

    def _apply(self, event: StreamEvent) -> bool:
        """Apply one event to the cache; whether the objects changed."""
        match event:
            case Listed(stream, items):
                self._cache.replace(stream, items)
                self._errors.pop(stream, None)
                return True
            case Upserted(stream, item):
                self._cache.upsert(stream, item)
                return True
            case Deleted(stream, key):
                self._cache.remove(stream, key)
                return True
            case KindSwitched(stream, kind):
                self._cache.switch_kind(stream, kind)
            case StreamFailed(stream, message):
                self._errors[stream] = message
            case StreamWorking(stream):
                self._errors.pop(stream, None)
        return False

    def _report(self, report: ReportStatus) -> None:
        status = self._status()
        if status is not None and status != self._last_status:
            self._last_status = status
            report(status)

    def _status(self) -> ProviderStatus | None:
        if self._errors:
            first = self._errors[sorted(self._errors)[0]]
            more = f" (and {len(self._errors) - 1} more streams failing)" if len(self._errors) > 1 else ""
            kept = "; keeping the last good configuration" if self._last_published is not None else ""
            message = f"{first}{more}{kept}"
            return ProviderStatus(
                self.name, healthy=False, message=message, last_sync=self._last_sync, logged=True
            )
        if self._cache.synced:
            return ProviderStatus(self.name, healthy=True, last_sync=self._last_sync, logged=True)
        return None

    async def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

        def join() -> None:
            deadline = time.monotonic() + 2.0
            for worker in workers:
                worker.thread.join(max(0.0, deadline - time.monotonic()))

        # Shielded: a second cancellation must not leave threads reading sockets we are closing.
        await asyncio.shield(asyncio.to_thread(join))

    @property
    def threads(self) -> list[threading.Thread]:
        return [w.thread for w in self._workers]

    # ---------------------------------------------------------------- status

    async def resolve_publish_address(
        self, *, publish_service: str = "", publish_address: str = ""
    ) -> PublishAddress:
        """`--publish-address` wins; else the addresses of `--publish-service NS/NAME`."""
        if publish_address:
            return parse_publish_address(publish_address)
        if not publish_service:
            return PublishAddress()
        return await self.resolve_publish_service_address(publish_service)

    async def resolve_running_address(self, pod: PodReference) -> RunningAddress:
        """The address of the node `pod` runs on, when neither flag is given (`status.running_address`)."""
        return await asyncio.to_thread(lambda: running_address(self.api(), pod))

    async def resolve_publish_service_address(self, publish_service: str) -> PublishAddress:
        """The addresses of Service NS/NAME (load balancer, else external IPs, else cluster IP)."""
        namespace, name = parse_publish_service(publish_service)
        service = await asyncio.to_thread(lambda: self.api().get_service(namespace, name))
        return address_from_service(service)

    async def publish_status(self, ingresses: Iterable[Ingress], address: PublishAddress) -> int:
        """Write `status.loadBalancer.ingress` of each Ingress that does not already say `address`.

        Needs the watch running (see `status.StatusWriter`). Returns how many were written.
        """
        workers = [w for w in self._workers if w.kind is INGRESS]

        def state() -> dict[Key, IngressState]:
            known: dict[Key, IngressState] = {}
            for worker in workers:
                known.update(worker.ingress_state())
            return known

        return await self._status_writer.publish(self.api(), ingresses, address, state)

    async def publish_gateway_status(
        self, report: GatewayStatusReport, address: PublishAddress | None
    ) -> int:
        """Write the Gateway API status of `report` where it differs from what the watch shows
        (see `gateway_status`). Needs the watch running. Returns how many objects were written."""
        if not self.gateway:
            return 0
        workers = list(self._workers)

        def observed(kind: Kind) -> dict[Key, Observed]:
            known: dict[Key, Observed] = {}
            for worker in workers:
                if worker.kind is kind:
                    known.update(worker.observed())
            return known

        return await self._gateway_status_writer.publish(self.api(), report, address, observed)
