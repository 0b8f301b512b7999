"""Writing the Gateway API status the compiler computed (`ingressctl.gateway.status`): the leader only.

GatewayClass `conditions`; Gateway `conditions`, `listeners` (conditions, attachedRoutes,
supportedKinds) and `addresses` (the address Ingress status publishes); HTTPRoute `parents`, where
only the entries with our controllerName are ours: the others (another controller's Gateway) are
kept as they are, and ours are removed from routes no longer attached to any of our Gateways.

What each object says now (and its resourceVersion) comes from the watch (`observed`), so an object
whose status already says the same is not written at all. A condition whose status did not change
keeps its lastTransitionTime (as apimachinery's SetStatusCondition does), so a pass that changes
nothing writes nothing. A write that loses a race (409) waits for the watch to bring the newer
version and tries again, as the Ingress status writer does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from ingressctl.model.gateway import (
    Condition,
    GatewayClassStatus,
    GatewayStatus,
    GatewayStatusReport,
    HTTPRouteStatus,
    ParentRef,
)
from ingressctl.model.objects import ObjectRef
from ingressctl.providers.kubernetes.address import PublishAddress
from ingressctl.providers.kubernetes.client import RECOVERABLE, ApiError, KubeApi
from ingressctl.providers.kubernetes.kinds import GATEWAY, GATEWAY_CLASS, GATEWAY_GROUP, HTTP_ROUTE, Key, Kind
from ingressctl.providers.kubernetes.observed import Observed
from ingressctl.providers.kubernetes.problems import ProblemLog
from ingressctl.providers.kubernetes.resources import (
    ApiCondition,
    GatewayAddressDoc,
    GatewayApiStatus,
    GatewayApiStatusUpdate,
    ListenerStatusDoc,
    ObjectMeta,
    ParentReference,
    RouteParentStatusDoc,
)

log = logging.getLogger(__package__)  # one logger for the whole provider

STATUS_PROBLEM = "gateway-status"

ObservedFn = Callable[[Kind], Mapping[Key, Observed]]
Build = Callable[[Observed], GatewayApiStatus]


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ====================================================================== documents


def conditions_doc(
    conditions: Sequence[Condition], current: Sequence[ApiCondition], generation: int, now: str
) -> list[ApiCondition]:
    """The conditions as the API writes them; one whose status is unchanged keeps its transition time."""
    before = {c.get("type"): c for c in current}
    out: list[ApiCondition] = []
    for cond in conditions:
        previous = before.get(cond.type)
        kept = previous is not None and previous.get("status") == cond.status.value
        since = str(previous.get("lastTransitionTime") or "") if previous is not None and kept else ""
        out.append(
            {
                "type": cond.type,
                "status": cond.status.value,
                "reason": cond.reason,
                "message": cond.message,
                "observedGeneration": cond.observed_generation or generation,
                "lastTransitionTime": since or now,
            }
        )
    return out


def parent_ref_doc(ref: ParentRef) -> ParentReference:
    doc: ParentReference = {"group": ref.group, "kind": ref.kind, "name": ref.name}
    if ref.namespace:
        doc["namespace"] = ref.namespace
    if ref.section_name:
        doc["sectionName"] = ref.section_name
    if ref.port is not None:
        doc["port"] = ref.port
    return doc


def _same_parent(a: ParentReference, b: ParentReference, route_namespace: str) -> bool:
    """Whether two parentRefs name the same parent (the API's defaults filled in on both sides)."""

    def norm(ref: ParentReference) -> tuple[object, ...]:
        return (
            ref.get("group", "gateway.networking.k8s.io"),
            ref.get("kind", "Gateway"),
            ref.get("namespace") or route_namespace,
            ref.get("name", ""),
            ref.get("sectionName", ""),
            ref.get("port"),
        )

    return norm(a) == norm(b)


def gateway_class_doc(status: GatewayClassStatus, known: Observed, now: str) -> GatewayApiStatus:
    doc = known.status.copy()  # keep what is not ours to say (supportedFeatures)
    doc["conditions"] = conditions_doc(
        status.conditions, known.status.get("conditions") or [], known.generation, now
    )
    return doc


def address_docs(address: PublishAddress | None, declared: Sequence[str]) -> list[GatewayAddressDoc]:
    """The published address (as Ingress status has it), else what the compiler reported."""
    out: list[GatewayAddressDoc] = []
    for entry in address.load_balancer_ingress() if address is not None else []:
        if entry.get("ip"):
            out.append({"type": "IPAddress", "value": str(entry["ip"])})
        elif entry.get("hostname"):
            out.append({"type": "Hostname", "value": str(entry["hostname"])})
    if not out:
        for value in declared:
            kind = "Hostname" if any(c.isalpha() for c in value) and ":" not in value else "IPAddress"
            out.append({"type": kind, "value": value})
    return out


def gateway_doc(
    status: GatewayStatus, known: Observed, address: PublishAddress | None, now: str
) -> GatewayApiStatus:
    generation = known.generation
    listeners_before = {item.get("name"): item for item in known.status.get("listeners") or []}
    listeners: list[ListenerStatusDoc] = []
    for listener in status.listeners:
        before = listeners_before.get(listener.name) or {}
        listeners.append(
            {
                "name": listener.name,
                "supportedKinds": [{"group": k.group, "kind": k.kind} for k in listener.supported_kinds],
                "attachedRoutes": listener.attached_routes,
                "conditions": conditions_doc(
                    listener.conditions, before.get("conditions") or [], generation, now
                ),
            }
        )
    doc: GatewayApiStatus = {
        "conditions": conditions_doc(
            status.conditions, known.status.get("conditions") or [], generation, now
        ),
        "listeners": listeners,
    }
    addresses = address_docs(address, status.addresses)
    if addresses:
        doc["addresses"] = addresses
    return doc


# Whether an entry with our controllerName names a parent this process answers for (parentRef, the
# route's namespace): one of the Gateways it serves, or one that is gone. Another replica set with the
# same controller name and another --gateway-class answers for its own Gateways: not fought over.
Judged = Callable[[ParentReference, str], bool]


def judge(served: Collection[Key], existing: Collection[Key]) -> Judged:
    def judged(ref: ParentReference, route_namespace: str) -> bool:
        if ref.get("group", GATEWAY_GROUP) != GATEWAY_GROUP or ref.get("kind", "Gateway") != "Gateway":
            return True  # a kind of parent we never serve: an entry of ours there is stale
        key = (ref.get("namespace") or route_namespace, ref.get("name", ""))
        return key in served or key not in existing

    return judged


def _ours(parent: RouteParentStatusDoc, controller: str, namespace: str, judged: Judged) -> bool:
    return parent.get("controllerName") == controller and judged(parent.get("parentRef") or {}, namespace)


def http_route_doc(
    status: HTTPRouteStatus | None,
    known: Observed,
    controller: str,
    namespace: str,
    now: str,
    judged: Judged = lambda ref, ns: True,
) -> GatewayApiStatus:
    """Our parents (none when `status` is None: the route is no longer ours), others' kept as they are."""
    parents = known.status.get("parents") or []
    others = [p for p in parents if not _ours(p, controller, namespace, judged)]
    before = [p for p in parents if _ours(p, controller, namespace, judged)]
    ours: list[RouteParentStatusDoc] = []
    for parent in status.parents if status is not None else ():
        ref = parent_ref_doc(parent.parent_ref)
        previous = next(
            (p for p in before if _same_parent(p.get("parentRef") or {}, ref, namespace)),
            None,
        )
        current = (previous or {}).get("conditions") or []
        ours.append(
            {
                "parentRef": ref,
                "controllerName": parent.controller_name or controller,
                "conditions": conditions_doc(parent.conditions, current, known.generation, now),
            }
        )
    doc = known.status.copy()
    doc["parents"] = others + ours
    return doc


# ====================================================================== writing


@dataclass(frozen=True, slots=True)
class _Write:
    kind: Kind
    key: Key
    build: Build


class GatewayStatusWriter:
    """Writes a GatewayStatusReport into the objects' status subresources (see the module doc)."""

    def __init__(self, problems: ProblemLog) -> None:
        self._problems = problems
        # (plural, key) → (the version we wrote over, what the write returned): until the watch
        # brings our own write, the next pass compares with what we wrote, not with the old status.
        self._written: dict[tuple[str, Key], tuple[str, Observed]] = {}

    async def publish(
        self,
        api: KubeApi,
        report: GatewayStatusReport,
        address: PublishAddress | None,
        observed: ObservedFn,
    ) -> int:
        """Write every object whose status differs from `report`; how many were written."""
        writes = self._plan(report, address, observed)
        return await asyncio.to_thread(self._write_all, api, writes, observed)

    def _plan(
        self, report: GatewayStatusReport, address: PublishAddress | None, observed: ObservedFn
    ) -> list[_Write]:
        now = now_rfc3339()
        controller = report.controller_name
        # Forget our writes over objects the watch no longer shows (deleted): the map stays small.
        present = {
            (kind.plural, key) for kind in (GATEWAY_CLASS, GATEWAY, HTTP_ROUTE) for key in observed(kind)
        }
        self._written = {k: v for k, v in self._written.items() if k in present}
        writes: list[_Write] = []
        for ref, cls in sorted(report.gateway_classes.items(), key=_by_ref):
            writes.append(_Write(GATEWAY_CLASS, ("", ref.name), _bind_class(cls, now)))
        for ref, gw in sorted(report.gateways.items(), key=_by_ref):
            writes.append(_Write(GATEWAY, (ref.namespace, ref.name), _bind_gateway(gw, address, now)))
        judged = judge({(r.namespace, r.name) for r in report.gateways}, set(observed(GATEWAY)))
        routes = dict(report.http_routes)
        for ref, route in sorted(routes.items(), key=_by_ref):
            key = (ref.namespace, ref.name)
            writes.append(_Write(HTTP_ROUTE, key, _bind_route(route, key, controller, now, judged)))
        # Routes that still carry our parents but are ours no more: take our entries out.
        reported = {(r.namespace, r.name) for r in routes}
        for key, known in sorted(observed(HTTP_ROUTE).items()):
            if key not in reported and any(
                _ours(p, controller, key[0], judged) for p in known.status.get("parents") or []
            ):
                writes.append(_Write(HTTP_ROUTE, key, _bind_route(None, key, controller, now, judged)))
        return writes

    def _current(self, write: _Write, observed: ObservedFn) -> Observed | None:
        watched = observed(write.kind).get(write.key)
        mine = self._written.get((write.kind.plural, write.key))
        if watched is not None and mine is not None and watched.resource_version == mine[0]:
            return mine[1]
        return watched

    def _write_all(self, api: KubeApi, writes: list[_Write], observed: ObservedFn) -> int:
        written = 0
        failures: list[tuple[str, BaseException]] = []
        for write in writes:
            namespace, name = write.key
            subject = f"{write.kind.kind} {namespace + '/' if namespace else ''}{name}"
            for attempt in range(3):
                known = self._current(write, observed)
                if known is None:  # not (yet) in the watch: the next pass writes it
                    break
                desired = write.build(known)
                if desired == known.status:
                    break
                meta: ObjectMeta = {"name": name, "resourceVersion": known.resource_version}
                if namespace:
                    meta["namespace"] = namespace
                body: GatewayApiStatusUpdate = {
                    "apiVersion": write.kind.api_version,
                    "kind": write.kind.kind,
                    "metadata": meta,
                    "status": desired,
                }
                try:
                    answer = api.replace_custom_status(write.kind, namespace, name, body)
                except ApiError as exc:
                    if exc.status == 409 and attempt < 2:  # changed under us: wait for the watch
                        _wait_for_change(observed, write, known.resource_version)
                        continue
                    if exc.status != 404:  # 404: deleted meanwhile, nothing to say
                        failures.append((subject, exc))
                    break
                except RECOVERABLE as exc:
                    failures.append((subject, exc))
                    break
                self._written[(write.kind.plural, write.key)] = (known.resource_version, Observed.of(answer))
                written += 1
                log.info("kubernetes: %s status written", subject)
                break
        if failures:
            first, error = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            level = error.log_level if isinstance(error, ApiError) else logging.WARNING
            signature = f"api {error.status}" if isinstance(error, ApiError) else type(error).__name__
            self._problems.failed(
                STATUS_PROBLEM,
                f"cannot write the status of {first}{more}: {error}",
                level=level,
                signature=signature,
            )
        else:
            self._problems.recovered(STATUS_PROBLEM, "writing Gateway API status")
        return written


def _by_ref(item: tuple[ObjectRef, object]) -> tuple[str, str]:
    return (item[0].namespace, item[0].name)


def _bind_class(status: GatewayClassStatus, now: str) -> Build:
    return lambda known: gateway_class_doc(status, known, now)


def _bind_gateway(status: GatewayStatus, address: PublishAddress | None, now: str) -> Build:
    return lambda known: gateway_doc(status, known, address, now)


def _bind_route(status: HTTPRouteStatus | None, key: Key, controller: str, now: str, judged: Judged) -> Build:
    return lambda known: http_route_doc(status, known, controller, key[0], now, judged)


def _wait_for_change(observed: ObservedFn, write: _Write, version: str) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        known = observed(write.kind).get(write.key)
        if known is None or known.resource_version != version:
            return
        time.sleep(0.02)
