"""The controller's duties towards the cluster: leadership (a Lease) and Ingress status.

Several replicas of `serve --kubernetes` all watch the API and all serve traffic, but exactly one of
them, the holder of the `coordination.k8s.io/v1` Lease, acts on the cluster: it writes the published
address into `status.loadBalancer.ingress` of the Ingresses we serve, and it is the only one that
orders ACME certificates (the ACME glue subscribes to leadership changes here). A replica that stops
(SIGTERM) releases the Lease first, so a successor takes over at its next retry instead of waiting
for the Lease to expire.

Status writes run after each applied table and when leadership is gained, coalesced (one pass at a
time; a pass that was asked for while one ran runs once more after it), and only change Ingresses
whose status differs (the provider compares with what the watch last saw). With `--gateway` the same
passes write the Gateway API status the applied table carries (`RoutingTable.gateway_status`), with
the same published address in Gateway `status.addresses`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.model import Ingress, IngressctlError, Snapshot
from ingressctl.model.gateway import EMPTY_STATUS_REPORT, GatewayStatusReport
from ingressctl.providers.base import ProviderUpdate
from ingressctl.providers.kubernetes.address import (
    PodReference,
    PublishAddress,
    RunningAddress,
    pod_reference,
)

if TYPE_CHECKING:  # imported when used: the kubernetes client library is slow to import
    from ingressctl.providers.kubernetes.lease import LeaderElector
    from ingressctl.providers.kubernetes.provider import KubernetesProvider
    from ingressctl.proxy.plan import Table

log = logging.getLogger("ingressctl.server")

ServedFn = Callable[[Snapshot], Sequence[Ingress]]
LeadershipListener = Callable[[bool], None]

# How often the address of --publish-service is looked up again (a LoadBalancer gets its IP late).
REPUBLISH_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """What `serve` was told about leadership and status (flags; env for the pod's identity)."""

    publish_service: str = ""
    publish_address: str = ""
    leader_election: bool = True
    election_namespace: str = ""  # "" → $POD_NAMESPACE → the kubeconfig context's / pod's namespace
    election_id: str = "ingressctl-leader"
    lease_duration: int = 15
    identity: str = ""  # "" → $POD_NAME → hostname_pid

    def timing(self) -> tuple[int, float, float]:
        """(lease duration, renew deadline, retry period) in client-go's proportions (15 / 10 / 2)."""
        lease = max(2, self.lease_duration)
        return lease, max(1.0, lease * 2 / 3), max(0.2, lease * 2 / 15)


def replica_identity(environ: Mapping[str, str] | None = None) -> str:
    """This serve replica's name as a Lease holder: $POD_NAME (stable across restarts of the pod, so
    a restarted leader takes its own lease back), else hostname_pid outside a pod."""
    env = os.environ if environ is None else environ
    return env.get("POD_NAME") or f"{socket.gethostname()}_{os.getpid()}"


class ClusterControl:
    """Leader election and Ingress status for one `serve` process (the Kubernetes provider's companion)."""

    def __init__(self, provider: KubernetesProvider, settings: ClusterSettings, served: ServedFn) -> None:
        self.provider = provider
        self.settings = settings
        self._served = served
        self.identity = settings.identity or replica_identity()
        self.elector: LeaderElector | None = None
        self._leading = not settings.leader_election
        self._listeners: list[LeadershipListener] = []
        self._ingresses: tuple[Ingress, ...] = ()
        self._have_table = False
        self._address: PublishAddress | None = None
        # Neither --publish-service nor --publish-address: publish the address of this pod's node.
        self._pod: PodReference | None = None
        self._pod_outcome = ""  # what was last logged about it (log each outcome once)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.status_passes = 0
        self._gateway_report: GatewayStatusReport = EMPTY_STATUS_REPORT
        self._ingress_status = True  # False: no address source at all (Gateway API status only)
        self._last_lookup = -REPUBLISH_SECONDS  # loop time the status address was last looked up

    # ------------------------------------------------------------ leadership

    @property
    def is_leader(self) -> bool:
        return self._leading

    def subscribe(self, listener: LeadershipListener) -> None:
        """`listener(True)` when this replica starts leading, `listener(False)` when it stops.

        Called at once with the current state.
        """
        self._listeners.append(listener)
        listener(self._leading)

    def _set_leading(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        for listener in list(self._listeners):
            try:
                listener(leading)
            except Exception:
                log.exception("leadership listener failed")
        if leading:
            self._wake.set()  # the new leader brings every status up to date

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.settings.leader_election:
            from ingressctl.providers.kubernetes.lease import LeaderElector

            connection = await asyncio.to_thread(lambda: self.provider.connection)
            namespace = (
                self.settings.election_namespace or os.environ.get("POD_NAMESPACE") or connection.namespace
            )
            lease, renew, retry = self.settings.timing()
            self.elector = LeaderElector(
                connection,
                namespace=namespace,
                name=self.settings.election_id,
                identity=self.identity,
                lease_duration=lease,
                renew_deadline=renew,
                retry_period=retry,
                on_started_leading=lambda: self._set_leading(True),
                on_stopped_leading=lambda: self._set_leading(False),
            )
            log.info(
                "leader election: Lease %s/%s as %s (lease %ds, renew %.1fs, retry %.1fs)",
                namespace,
                self.settings.election_id,
                self.identity,
                lease,
                renew,
                retry,
            )
            self._tasks.append(asyncio.ensure_future(self.elector.run()))
        if not (self.settings.publish_service or self.settings.publish_address):
            self._pod = pod_reference(os.environ, await self._own_namespace())
            if self._pod is None:
                log.warning(
                    "kubernetes: Ingress status is not written and stays empty: no --publish-service "
                    "NS/NAME or --publish-address ADDR (or [kubernetes.ingressEndpoint] in the "
                    "configuration file) is given, and POD_NAME is not set to find the node this pod "
                    "runs on; set --publish-service to the Service in front of ingressctl, or "
                    "--publish-address, or POD_NAME and POD_NAMESPACE from the downward API"
                )
                if not self.provider.gateway:
                    return
                self._ingress_status = False  # the Gateway API conditions are written all the same
            log.info(
                "kubernetes: no --publish-service or --publish-address: Ingress status gets the address "
                "of the node pod %s runs on",
                self._pod,
            )
        self._tasks.append(asyncio.ensure_future(self._status_loop()))

    async def _own_namespace(self) -> str:
        """The namespace of the service account (in a pod) or of the kubeconfig context."""
        try:
            connection = await asyncio.to_thread(lambda: self.provider.connection)
        except IngressctlError:
            return "default"  # the provider reports the broken connection itself
        return str(connection.namespace)

    async def stop(self) -> None:
        """Stop writing status and give the Lease up (the elector releases it when cancelled)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._set_leading(False)

    # ------------------------------------------------------------ status

    def on_table(self, table: Table) -> None:
        """The table about to be applied: its Gateway API status is what the next pass writes."""
        from ingressctl.routing.table import RoutingTable

        self._gateway_report = (
            table.gateway_status if isinstance(table, RoutingTable) else EMPTY_STATUS_REPORT
        )

    def on_applied(self, updates: Mapping[str, ProviderUpdate]) -> None:
        """A table was applied: remember which cluster Ingresses it serves and schedule a status pass."""
        update = updates.get(getattr(self.provider, "name", "kubernetes"))
        self._ingresses = tuple(self._served(update.snapshot)) if update is not None else ()
        self._have_table = True
        self._wake.set()

    async def _status_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REPUBLISH_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if not (self._leading and self._have_table):
                continue
            if self._ingress_status:
                await self._ingress_pass(loop)
            # After the Ingresses: Gateway status.addresses is the address just resolved for them.
            await self._publish_gateway()

    async def _ingress_pass(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pod is not None:
            if self._address is None and loop.time() - self._last_lookup >= REPUBLISH_SECONDS:
                self._last_lookup = loop.time()
                self._address = await self._running_address(self._pod)
            if self._address is not None:
                await self._publish(self._address)
            return
        try:
            if self._address is None or (
                self.settings.publish_service and loop.time() - self._last_lookup >= REPUBLISH_SECONDS
            ):
                self._address = await self.provider.resolve_publish_address(
                    publish_service=self.settings.publish_service,
                    publish_address=self.settings.publish_address,
                )
                self._last_lookup = loop.time()
            if not self._address:
                log.warning(
                    "kubernetes: Service %s has no address yet; Ingress status not written",
                    self.settings.publish_service,
                )
                self._address = None
                return
            await self.provider.publish_status(self._ingresses, self._address)
            self.status_passes += 1
        except asyncio.CancelledError:
            raise
        except IngressctlError as exc:
            log.warning("kubernetes: Ingress status not written: %s", exc)
            self._address = None
        except Exception as exc:  # an API outage: the next table or the periodic pass retries
            log.warning("kubernetes: Ingress status not written: %s: %s", type(exc).__name__, exc)
            self._address = None

    async def _publish(self, address: PublishAddress) -> None:
        try:
            await self.provider.publish_status(self._ingresses, address)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an API outage: the next table or the periodic pass retries
            log.warning("kubernetes: Ingress status not written: %s: %s", type(exc).__name__, exc)
            return
        self.status_passes += 1

    async def _publish_gateway(self) -> None:
        """The Gateway API status of the applied table (with the address last resolved, if any)."""
        if not self.provider.gateway:
            return
        try:
            await self.provider.publish_gateway_status(self._gateway_report, self._address)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an API outage: the next table or the periodic pass retries
            log.warning("kubernetes: Gateway API status not written: %s: %s", type(exc).__name__, exc)

    async def _running_address(self, pod: PodReference) -> PublishAddress | None:
        """This pod's node address, or None (logged: each outcome once, retried every REPUBLISH_SECONDS)."""
        stays_empty = (
            "Ingress status stays empty until it is found; set --publish-service NS/NAME (the Service in "
            "front of ingressctl) or --publish-address ADDR to publish an address of your choice"
        )
        try:
            running: RunningAddress = await self.provider.resolve_running_address(pod)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RBAC (get pods) or an API outage: retried
            self._log_pod_outcome(
                logging.WARNING,
                f"kubernetes: cannot find the node address of pod {pod}: {exc}; {stays_empty}",
            )
            return None
        if not running.address:
            self._log_pod_outcome(
                logging.WARNING,
                f"kubernetes: no address to publish for pod {pod}: {running.source}; {stays_empty}",
            )
            return None
        self._log_pod_outcome(
            logging.INFO, f"kubernetes: Ingress status gets {running.address}: {running.source}"
        )
        return running.address

    def _log_pod_outcome(self, level: int, message: str) -> None:
        if message != self._pod_outcome:
            self._pod_outcome = message
            log.log(level, message)
