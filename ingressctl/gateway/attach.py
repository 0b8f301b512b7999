"""Who serves what: our GatewayClasses, their Gateways' listeners on entrypoints, and HTTPRoutes on
listeners (parentRefs with sectionName/port, allowedRoutes, hostname intersection).

As in Traefik, a listener attaches to the entrypoint whose port equals its port; a listener whose
port has no entrypoint is not programmed, and says so. Every decision is recorded as a condition
with the API's reason (ingressctl.gateway.status turns them into the status report).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ingressctl.gateway import reasons as r
from ingressctl.gateway.hostnames import intersect
from ingressctl.gateway.refs import Grants
from ingressctl.model import Secret, TLSCertificate
from ingressctl.model.gateway import (
    GROUP,
    Condition,
    ConditionStatus,
    FromNamespaces,
    Gateway,
    GatewayClass,
    HTTPRoute,
    LabelSelector,
    Listener,
    ParentRef,
    RouteGroupKind,
)
from ingressctl.model.objects import NAMESPACE_NAME_LABEL, Snapshot
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.tls import pem_problem

HTTP_ROUTE = RouteGroupKind("HTTPRoute", GROUP)
_SUPPORTED_PROTOCOLS = ("HTTP", "HTTPS")


def condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> Condition:
    return Condition(kind, ConditionStatus.TRUE if ok else ConditionStatus.FALSE, reason, message, generation)


@dataclass(slots=True)
class ListenerState:
    gateway: Gateway
    listener: Listener
    entrypoint: str | None
    supported_kinds: tuple[RouteGroupKind, ...]
    conditions: list[Condition] = field(default_factory=list)
    certificate: TLSCertificate | None = None
    ready: bool = True  # routes may attach
    attached: int = 0
    label: str = ""  # for people: "Gateway ns/name listener http (entrypoint web)"

    def __post_init__(self) -> None:
        where = f"entrypoint {self.entrypoint}" if self.entrypoint else "no entrypoint"
        self.label = f"{self.gateway.ref} listener {self.listener.name} ({where})"


@dataclass(slots=True)
class GatewayState:
    gateway: Gateway
    listeners: list[ListenerState]
    conditions: list[Condition] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Attachment:
    """One HTTPRoute on one listener, with the hostnames it serves there (None: any host)."""

    route: HTTPRoute
    parent: ParentRef
    listener: ListenerState
    hostnames: tuple[str | None, ...]


@dataclass(slots=True)
class ParentResult:
    parent: ParentRef
    accepted: Condition
    attachments: list[Attachment]


@dataclass(slots=True)
class Attached:
    """Everything attach() decided."""

    classes: dict[str, GatewayClass]  # ours, by name
    gateways: list[GatewayState]
    routes: list[tuple[HTTPRoute, list[ParentResult]]]  # routes with at least one parent of ours
    grants: Grants


def attach(snapshot: Snapshot, options: CompileOptions) -> Attached:
    grants = Grants(snapshot.reference_grants)
    classes = {
        c.meta.name: c
        for c in snapshot.gateway_classes
        if c.controller_name == options.gateway_controller_name
        and (not options.gateway_class or c.meta.name == options.gateway_class)
    }
    secrets = {(s.meta.namespace, s.meta.name): s for s in snapshot.secrets}
    ports: dict[int, tuple[str, bool]] = {}
    for name, port, tls in options.entrypoint_ports:
        ports.setdefault(port, (name, tls))
    if not options.entrypoint_ports:
        # No entrypoints known (validate, routes without --config): judge everything but the port.
        for gateway in snapshot.gateways:
            for item in gateway.listeners:
                ports.setdefault(item.port, (f":{item.port}", item.protocol == "HTTPS"))
    gateways = [
        _gateway_state(g, ports, secrets, grants)
        for g in sorted(snapshot.gateways, key=lambda g: (g.meta.namespace, g.meta.name))
        if g.gateway_class_name in classes
    ]
    by_ref = {(g.gateway.meta.namespace, g.gateway.meta.name): g for g in gateways}
    namespaces = {ns.meta.name: ns.meta.labels for ns in snapshot.namespaces}
    routes: list[tuple[HTTPRoute, list[ParentResult]]] = []
    for route in sorted(snapshot.http_routes, key=lambda h: (h.meta.namespace, h.meta.name)):
        results: list[ParentResult] = []
        for parent in route.parent_refs:
            if parent.group != GROUP or parent.kind != "Gateway":
                continue  # another kind of parent (a ListenerSet, a Service mesh): not ours
            state = by_ref.get((parent.namespace_or(route.meta.namespace), parent.name))
            if state is None:
                continue  # a Gateway of another controller, or none at all: not ours to judge
            results.append(_attach_route(route, parent, state, namespaces))
        if results:
            routes.append((route, results))
    for _, results in routes:
        for result in results:
            for listener in {id(a.listener): a.listener for a in result.attachments}.values():
                listener.attached += 1
    return Attached(classes, gateways, routes, grants)


# ---------------------------------------------------------------- Gateways and listeners


def _gateway_state(
    gateway: Gateway,
    ports: dict[int, tuple[str, bool]],
    secrets: dict[tuple[str, str], Secret],
    grants: Grants,
) -> GatewayState:
    generation = gateway.meta.generation
    listeners = [_listener_state(gateway, lst, ports, secrets, grants) for lst in gateway.listeners]
    _conflicts(listeners, generation)
    state = GatewayState(gateway, listeners)
    if gateway.addresses:
        state.conditions.append(
            condition(
                r.ACCEPTED,
                False,
                r.UNSUPPORTED_ADDRESS,
                "spec.addresses cannot be honoured: ingressctl listens on its entrypoints' addresses",
                generation,
            )
        )
        state.conditions.append(condition(r.PROGRAMMED, False, r.ADDRESS_NOT_ASSIGNED, "", generation))
        for listener in listeners:
            listener.ready = False
        return state
    valid = [lst for lst in listeners if lst.ready]
    if valid or not listeners:
        state.conditions.append(condition(r.ACCEPTED, True, r.ACCEPTED, "", generation))
    else:
        state.conditions.append(
            condition(r.ACCEPTED, False, r.LISTENERS_NOT_VALID, "no listener can be served", generation)
        )
    if valid:
        served = ", ".join(f"{lst.listener.name} on {lst.entrypoint}" for lst in valid)
        state.conditions.append(condition(r.PROGRAMMED, True, r.PROGRAMMED, f"served: {served}", generation))
    else:
        state.conditions.append(
            condition(r.PROGRAMMED, False, r.INVALID, "no listener is served", generation)
        )
    return state


def _listener_state(
    gateway: Gateway,
    listener: Listener,
    ports: dict[int, tuple[str, bool]],
    secrets: dict[tuple[str, str], Secret],
    grants: Grants,
) -> ListenerState:
    generation = gateway.meta.generation
    entry = ports.get(listener.port)
    state = ListenerState(gateway, listener, entry[0] if entry else None, ())
    conditions = state.conditions
    if listener.protocol not in _SUPPORTED_PROTOCOLS:
        state.ready = False
        conditions.append(
            condition(
                r.ACCEPTED,
                False,
                r.UNSUPPORTED_PROTOCOL,
                f"protocol {listener.protocol} is not supported (HTTP and HTTPS are)",
                generation,
            )
        )
        conditions.append(condition(r.PROGRAMMED, False, r.INVALID, "unsupported protocol", generation))
        conditions.append(condition(r.RESOLVED_REFS, True, r.RESOLVED_REFS, "", generation))
        return state
    kinds_ok = True
    if listener.allowed_routes.kinds:
        state.supported_kinds = tuple(k for k in listener.allowed_routes.kinds if k == HTTP_ROUTE)
        kinds_ok = len(state.supported_kinds) == len(listener.allowed_routes.kinds)
    else:
        state.supported_kinds = (HTTP_ROUTE,)
    refs_problem = _certificate(state, secrets, grants) if listener.protocol == "HTTPS" else None
    accepted_problem = ""
    if listener.tls is not None and listener.tls.mode != "Terminate":
        accepted_problem = f"TLS mode {listener.tls.mode} is not supported (Terminate is)"
    if accepted_problem:
        conditions.append(condition(r.ACCEPTED, False, r.UNSUPPORTED_PROTOCOL, accepted_problem, generation))
    elif entry is None:
        conditions.append(
            condition(
                r.ACCEPTED,
                False,
                r.PORT_UNAVAILABLE,
                f"no entrypoint listens on port {listener.port}; add one "
                f'(--entrypoint NAME=:{listener.port} or [entryPoints.NAME] address = ":{listener.port}")',
                generation,
            )
        )
    else:
        conditions.append(condition(r.ACCEPTED, True, r.ACCEPTED, "", generation))
    if refs_problem is not None:
        conditions.append(condition(r.RESOLVED_REFS, False, refs_problem[0], refs_problem[1], generation))
    elif not kinds_ok:
        wrong = ", ".join(k.kind for k in listener.allowed_routes.kinds if k != HTTP_ROUTE)
        conditions.append(
            condition(
                r.RESOLVED_REFS,
                False,
                r.INVALID_ROUTE_KINDS,
                f"route kinds not supported: {wrong} (HTTPRoute is)",
                generation,
            )
        )
    else:
        conditions.append(condition(r.RESOLVED_REFS, True, r.RESOLVED_REFS, "", generation))
    tls_mismatch = ""
    if entry is not None:
        if listener.protocol == "HTTPS" and not entry[1]:
            tls_mismatch = f"entrypoint {entry[0]} (port {listener.port}) does not serve TLS"
        elif listener.protocol == "HTTP" and entry[1]:
            tls_mismatch = f"entrypoint {entry[0]} (port {listener.port}) serves TLS, not plain HTTP"
    problem = (
        accepted_problem
        or ("" if entry is not None else f"no entrypoint listens on port {listener.port}")
        or tls_mismatch
        or (refs_problem[1] if refs_problem is not None else "")
        or ("" if state.supported_kinds else "no supported route kind")
    )
    if problem:
        state.ready = False
        conditions.append(condition(r.PROGRAMMED, False, r.INVALID, problem, generation))
    else:
        conditions.append(
            condition(r.PROGRAMMED, True, r.PROGRAMMED, f"served on entrypoint {entry[0]}", generation)  # type: ignore[index]
        )
    return state


def _certificate(
    state: ListenerState, secrets: dict[tuple[str, str], Secret], grants: Grants
) -> tuple[str, str] | None:
    """Loads the listener's certificate; (reason, message) when it cannot."""
    tls = state.listener.tls
    gateway = state.gateway
    if tls is None or not tls.certificate_refs:
        return r.INVALID_CERTIFICATE_REF, "an HTTPS listener needs tls.certificateRefs"
    ref = tls.certificate_refs[0]  # one certificate per listener is served (the first)
    namespace = ref.namespace or gateway.meta.namespace
    if ref.group not in ("", "core") or ref.kind != "Secret":
        return r.INVALID_CERTIFICATE_REF, f"certificateRefs[0]: {ref.group}/{ref.kind} is not a Secret"
    if namespace != gateway.meta.namespace and not grants.allows(
        GROUP, "Gateway", gateway.meta.namespace, "", "Secret", namespace, ref.name
    ):
        return (
            r.REF_NOT_PERMITTED,
            f"Secret {namespace}/{ref.name} is in another namespace and no ReferenceGrant there allows it",
        )
    secret = secrets.get((namespace, ref.name))
    if secret is None:
        return r.INVALID_CERTIFICATE_REF, f"Secret {namespace}/{ref.name} not found"
    problem = pem_problem(secret)
    if problem:
        return r.INVALID_CERTIFICATE_REF, f"Secret {namespace}/{ref.name} {problem}"
    state.certificate = TLSCertificate(
        hosts=(), secret=secret.ref, cert_pem=secret.data["tls.crt"], key_pem=secret.data["tls.key"]
    )
    return None


def _conflicts(listeners: list[ListenerState], generation: int) -> None:
    """Listeners sharing a port must differ in hostname and agree on the protocol."""
    by_port: dict[int, list[ListenerState]] = defaultdict(list)
    for state in listeners:
        if state.listener.protocol in _SUPPORTED_PROTOCOLS:
            by_port[state.listener.port].append(state)
    for group in by_port.values():
        protocols = {s.listener.protocol for s in group}
        hostnames: dict[str | None, int] = defaultdict(int)
        for state in group:
            hostnames[state.listener.hostname] += 1
        for state in group:
            reason = ""
            if len(protocols) > 1:
                reason, message = r.PROTOCOL_CONFLICT, "another listener on this port uses another protocol"
            elif hostnames[state.listener.hostname] > 1:
                reason, message = r.HOSTNAME_CONFLICT, "another listener on this port has the same hostname"
            if reason:
                state.ready = False
                state.conditions.append(condition(r.CONFLICTED, True, reason, message, generation))
                state.conditions[:] = [
                    c
                    if c.type != r.PROGRAMMED
                    else condition(r.PROGRAMMED, False, r.INVALID, message, generation)
                    for c in state.conditions
                ]
            else:
                state.conditions.append(condition(r.CONFLICTED, False, r.NO_CONFLICTS, "", generation))


# ---------------------------------------------------------------- routes


def _attach_route(
    route: HTTPRoute, parent: ParentRef, state: GatewayState, namespaces: Mapping[str, Mapping[str, str]]
) -> ParentResult:
    generation = route.meta.generation
    candidates = [
        lst
        for lst in state.listeners
        if (parent.section_name is None or lst.listener.name == parent.section_name)
        and (parent.port is None or lst.listener.port == parent.port)
    ]
    if not candidates:
        what = f"section {parent.section_name}" if parent.section_name else f"port {parent.port}"
        return ParentResult(
            parent,
            condition(
                r.ACCEPTED,
                False,
                r.NO_MATCHING_PARENT,
                f"{state.gateway.ref} has no listener {what}",
                generation,
            ),
            [],
        )
    ready = [lst for lst in candidates if lst.ready]
    refusals = {id(lst): _refusal(route, lst, namespaces) for lst in ready}
    allowed = [lst for lst in ready if not refusals[id(lst)]]
    if not allowed:
        message = (
            "no listener of the parent is ready"
            if not ready
            else f"no listener of {state.gateway.ref} allows HTTPRoutes from namespace "
            f"{route.meta.namespace}: " + "; ".join(dict.fromkeys(refusals.values()))
        )
        return ParentResult(
            parent, condition(r.ACCEPTED, False, r.NOT_ALLOWED_BY_LISTENERS, message, generation), []
        )
    attachments: list[Attachment] = []
    for lst in allowed:
        hostnames = intersect(lst.listener.hostname, route.hostnames)
        if hostnames:
            attachments.append(Attachment(route, parent, lst, hostnames))
    if not attachments:
        names = ", ".join(route.hostnames)
        listener_names = ", ".join(lst.listener.hostname or "(any)" for lst in allowed)
        return ParentResult(
            parent,
            condition(
                r.ACCEPTED,
                False,
                r.NO_MATCHING_LISTENER_HOSTNAME,
                f"hostnames {names} intersect no listener hostname ({listener_names})",
                generation,
            ),
            [],
        )
    return ParentResult(parent, condition(r.ACCEPTED, True, r.ACCEPTED, "", generation), attachments)


def _refusal(route: HTTPRoute, listener: ListenerState, namespaces: Mapping[str, Mapping[str, str]]) -> str:
    """Why the listener's allowedRoutes refuse the route ("" when they allow it)."""
    if HTTP_ROUTE not in listener.supported_kinds:
        return f"{listener.label} does not allow HTTPRoutes (allowedRoutes.kinds)"
    allowed = listener.listener.allowed_routes
    gateway_namespace = listener.gateway.meta.namespace
    namespace = route.meta.namespace
    if allowed.namespaces_from is FromNamespaces.ALL:
        return ""
    if allowed.namespaces_from is FromNamespaces.SAME:
        if namespace == gateway_namespace:
            return ""
        return f"{listener.label} allows HTTPRoutes from its own namespace only (from: Same)"
    selector = allowed.selector
    if selector is None:
        return f"{listener.label} has from: Selector without a selector"
    labels = namespaces.get(namespace)
    if labels is None and _reads_only_the_name(selector):
        # The one label every Namespace has, set by the API server from the name: the answer does
        # not depend on the object (files rarely hold the Namespaces; migrate writes such selectors).
        labels = {NAMESPACE_NAME_LABEL: namespace}
    if labels is None:
        # Fail closed: labels unknown, so a selector (even NotIn/DoesNotExist) cannot vouch for it.
        return (
            f"Namespace {namespace} is unknown (not among the objects read, or not visible to "
            f"ingressctl): {listener.label} selects namespaces by their labels"
        )
    if selector.matches(labels):
        return ""
    return f"Namespace {namespace} does not match the namespace selector of {listener.label}"


def _reads_only_the_name(selector: LabelSelector) -> bool:
    keys = {*selector.match_labels, *(e.key for e in selector.match_expressions)}
    return bool(keys) and keys <= {NAMESPACE_NAME_LABEL}
