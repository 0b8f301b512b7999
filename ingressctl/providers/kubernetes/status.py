"""Ingress status: finding this pod's node address, and writing `status.loadBalancer.ingress`.

Writing needs the watch running: what each Ingress says now (and its resourceVersion) comes from
the watch, so the only API call is the write itself (RBAC: `update` on `ingresses/status`, no `get`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ingressctl.model import Ingress
from ingressctl.providers.kubernetes.address import (
    PodReference,
    PublishAddress,
    RunningAddress,
    node_address,
    single_address,
)
from ingressctl.providers.kubernetes.client import RECOVERABLE, ApiError, KubeApi, StreamBroken
from ingressctl.providers.kubernetes.errors import describe_transport_error
from ingressctl.providers.kubernetes.kinds import INGRESS, Key
from ingressctl.providers.kubernetes.problems import ProblemLog
from ingressctl.providers.kubernetes.resources import IngressStatusUpdate, KubeObject, LoadBalancerIngress

log = logging.getLogger(__package__)  # one logger for the whole provider

STATUS_PROBLEM = "ingress-status"


def running_address(api: KubeApi, pod: PodReference) -> RunningAddress:
    """The address of the node this pod runs on (blocking: call it from a thread).

    As ingress-nginx does without --publish-service: the node's ExternalIP, else its InternalIP.
    When the node cannot be read (no `get nodes` permission, or it is gone) the pod's `status.hostIP`
    (the node's IP as its kubelet reports it) is used instead, where ingress-nginx would publish
    nothing. The pod IP is never published: it is reachable only inside the cluster.
    Errors reading the pod itself propagate (ApiError, transport errors).
    """
    found = api.get_pod(pod.namespace, pod.name)
    node_name = str((found.get("spec") or {}).get("nodeName") or "")
    host_ip = str((found.get("status") or {}).get("hostIP") or "")
    why = f"pod {pod} is not scheduled on a node yet"
    if node_name:
        try:
            node = api.get_node(node_name)
        except ApiError as exc:
            if exc.status not in (401, 403, 404):
                raise
            why = f"cannot read node {node_name}: {exc}"
        else:
            chosen = node_address(node)
            if chosen is not None:
                source = f"the {chosen.get('type')} of node {node_name}, where pod {pod} runs"
                return RunningAddress(single_address(str(chosen.get("address"))), source)
            why = f"node {node_name} has no ExternalIP or InternalIP address"
    if host_ip:
        return RunningAddress(single_address(host_ip), f"the host IP of pod {pod} ({why})")
    return RunningAddress(PublishAddress(), why)


def current_load_balancer(ingress: KubeObject) -> list[LoadBalancerIngress]:
    """An Ingress's `status.loadBalancer.ingress`, reduced to the ip/hostname we write."""
    entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    out: list[LoadBalancerIngress] = []
    for entry in entries:
        item: LoadBalancerIngress = {}
        if entry.get("ip"):
            item["ip"] = str(entry["ip"])
        if entry.get("hostname"):
            item["hostname"] = str(entry["hostname"])
        if item:
            out.append(item)
    return out


# ====================================================================== writing


@dataclass(frozen=True, slots=True)
class IngressState:
    """What the status writer needs of an Ingress as last watched."""

    resource_version: str
    load_balancer: list[LoadBalancerIngress]

    @classmethod
    def of(cls, raw: KubeObject) -> IngressState:
        version = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        return cls(version, current_load_balancer(raw))


IngressStates = Callable[[], Mapping[Key, IngressState]]


class StatusWriter:
    """Writes the published address into the status of the Ingresses served, and clears it when they leave.

    A write that loses a race (409) waits for the watch to bring the newer version and tries again.
    An Ingress this process served that is served no more, and still holds an address this process
    wrote, is cleared. A failed write does not stop the others; the failures of one pass are logged
    as one problem (see `problems`: once, reminders, a line when writes work again).
    """

    def __init__(self, problems: ProblemLog) -> None:
        self._problems = problems
        # Every address this process wrote into Ingress status (usually one; a Service's can change).
        self._published_addresses: list[list[LoadBalancerIngress]] = []
        self._served_keys: set[Key] = set()  # Ingresses the last status pass published to

    async def publish(
        self, api: KubeApi, ingresses: Iterable[Ingress], address: PublishAddress, state: IngressStates
    ) -> int:
        """Write each Ingress that does not already say `address`; how many were written."""
        desired = address.load_balancer_ingress()
        if desired and desired not in self._published_addresses:
            self._published_addresses.append(desired)
        served = {(i.meta.namespace, i.meta.name) for i in ingresses}
        writes = [(key, desired) for key in sorted(served)]
        # An Ingress we served that is no longer ours (its class changed, it left the selection)
        # still shows our address: clear it while it says what we wrote. Only Ingresses this
        # process served: another controller publishing the same address is never fought.
        gone = self._served_keys - served
        known = state() if gone else {}  # a copy of every Ingress state: only when needed
        stale = sorted(
            key for key in gone if key in known and known[key].load_balancer in self._published_addresses
        )
        self._served_keys = served | set(stale)
        writes += [(key, []) for key in stale]
        return await asyncio.to_thread(_write_statuses, api, writes, state, self._problems)


def _write_statuses(
    api: KubeApi,
    writes: list[tuple[Key, list[LoadBalancerIngress]]],
    state: IngressStates,
    problems: ProblemLog,
) -> int:
    written = 0
    failures: list[tuple[str, BaseException]] = []
    for (namespace, name), desired in writes:
        for attempt in range(3):
            known = state().get((namespace, name))
            if known is None:
                log.warning(
                    "kubernetes: not writing the status of Ingress %s/%s: it is not (yet) in the watch",
                    namespace,
                    name,
                )
                break
            if known.load_balancer == desired:
                break
            body: IngressStatusUpdate = {
                "apiVersion": INGRESS.api_version,
                "kind": INGRESS.kind,
                "metadata": {"name": name, "namespace": namespace, "resourceVersion": known.resource_version},
                "status": {"loadBalancer": {"ingress": desired}},
            }
            try:
                api.replace_ingress_status(namespace, name, body)
            except ApiError as exc:
                if exc.status == 409 and attempt < 2:  # changed under us: wait for the watch to catch up
                    _wait_for_change(state, (namespace, name), known.resource_version)
                    continue
                if exc.status != 404:
                    failures.append((f"{namespace}/{name}", exc))
                break
            except RECOVERABLE as exc:
                failures.append((f"{namespace}/{name}", exc))
                break
            written += 1
            log.info("kubernetes: Ingress %s/%s status set to %s", namespace, name, desired or "(none)")
            break
    if failures:
        _status_problem(problems, failures, api.endpoint)
    else:
        problems.recovered(STATUS_PROBLEM, "writing Ingress status")
    return written


def _status_problem(problems: ProblemLog, failures: list[tuple[str, BaseException]], endpoint: str) -> None:
    """One problem for a pass, whatever the number of Ingresses: with RBAC wrong, every write fails alike."""
    first, exc = failures[0]
    if len(failures) == 1:
        subject = f"Ingress {first}"
    else:
        names = ", ".join(name for name, _ in failures[:3])
        subject = f"{len(failures)} Ingresses ({names}{', ...' if len(failures) > 3 else ''})"
    if isinstance(exc, ApiError):
        signature, level, cause = f"api {exc.status}", exc.log_level, str(exc)
    elif isinstance(exc, StreamBroken):
        signature, level, cause = "broken", logging.WARNING, str(exc)
    else:
        signature, level = f"transport {type(exc).__name__}", logging.WARNING
        cause = describe_transport_error("update", "ingresses/status", endpoint, exc)
    problems.failed(
        STATUS_PROBLEM, f"cannot write the status of {subject}: {cause}", level=level, signature=signature
    )


def _wait_for_change(state: IngressStates, key: Key, version: str) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        known = state().get(key)
        if known is None or known.resource_version != version:
            return
        time.sleep(0.02)
