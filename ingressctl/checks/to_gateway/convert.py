"""`migrate --to gateway-api`: the Gateway, its listeners, the HTTPRoutes and the ReferenceGrants.

Listeners: one HTTP listener per plain entrypoint (named after it, any hostname) and, per TLS
entrypoint, one HTTPS listener for each host of the Ingresses' `spec.tls` that names a Secret
(`ENTRYPOINT-HOST`, certificateRefs to those Secrets). A Secret in another namespace than the
Gateway's is granted to it by a ReferenceGrant in the Secret's namespace. Routes of namespaces other
than the Gateway's are let in by `allowedRoutes` naming exactly those namespaces (a selector on
`kubernetes.io/metadata.name`), never `All`.

Output order is fixed (GatewayClass, Gateway, ReferenceGrants, HTTPRoutes by namespace and name), so
the same input always gives the same bytes, whatever order the files were read in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingressctl.checks.to_gateway.filters import Treatment, treatment_of
from ingressctl.checks.to_gateway.notes import Note, NoteKind
from ingressctl.checks.to_gateway.routes import (
    CanaryBackend,
    IngressRoutes,
    ListenerInfo,
    RouteContext,
    RouteDoc,
)
from ingressctl.checks.to_gateway.schema import (
    API_VERSION,
    GRANT_API_VERSION,
    GROUP,
    MAX_CERTIFICATE_REFS,
    MAX_GRANT_TARGETS,
    JsonMap,
    check_object,
    dns_name,
    is_hostname,
)
from ingressctl.model import Ingress, Snapshot
from ingressctl.routing.annotations import parse_annotations
from ingressctl.routing.canary import parse_canary

NGINX = "nginx.ingress.kubernetes.io/"
CONTROLLER_NAME = "ingressctl.io/gateway-controller"


@dataclass(frozen=True, slots=True)
class EntrypointSpec:
    name: str
    port: int
    tls: bool = False


DEFAULT_ENTRYPOINTS = (EntrypointSpec("http", 80), EntrypointSpec("https", 443, tls=True))


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    name: str = "ingressctl"
    namespace: str = "default"
    gateway_class: str = "ingressctl"
    with_gateway_class: bool = False
    controller_name: str = CONTROLLER_NAME
    entrypoints: tuple[EntrypointSpec, ...] = DEFAULT_ENTRYPOINTS


@dataclass(frozen=True, slots=True)
class GatewayDocument:
    document: JsonMap
    comments: tuple[str, ...] = ()


@dataclass(slots=True)
class GatewayMigration:
    documents: list[GatewayDocument] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    ingresses: int = 0

    @property
    def unprotected(self) -> list[Note]:
        return [n for n in self.notes if n.kind is NoteKind.UNPROTECTED]

    @property
    def problems(self) -> list[Note]:
        return [n for n in self.notes if n.kind is NoteKind.PROBLEM]


def migrate_to_gateway(snapshot: Snapshot, options: GatewayOptions) -> GatewayMigration:
    """Every Ingress of `snapshot` as Gateway API objects, with what could not be carried."""
    result = GatewayMigration(ingresses=len(snapshot.ingresses))
    ingresses = sorted(snapshot.ingresses, key=lambda i: (i.meta.namespace, i.meta.name))
    secrets = {(s.meta.namespace, s.meta.name): s for s in snapshot.secrets}
    treatments: dict[tuple[str, str], Treatment] = {}
    canaries: dict[tuple[str, str, str], CanaryBackend] = {}
    for ingress in ingresses:
        parsed, _ = parse_annotations(ingress, lambda ns, n: secrets.get((ns, n)), secrets_in_input=False)
        is_canary = parsed.canary is not None
        treatments[_key(ingress)] = treatment_of(ingress, parsed, canary=is_canary)
        if is_canary:
            canaries.update(_canary_backends(ingress, result))
    listeners, gateway_comments = _listeners(ingresses, options, result)
    ctx = RouteContext(
        gateway_name=options.name,
        gateway_namespace=options.namespace,
        listeners=tuple(listeners),
        entrypoint_ports={e.name: (e.port, e.tls) for e in options.entrypoints},
        services={(s.meta.namespace, s.meta.name): s for s in snapshot.services},
        canaries=canaries,
        regex_hosts=_regex_hosts(ingresses, treatments),
    )
    routes: list[RouteDoc] = []
    used: set[tuple[str, str]] = set()
    for ingress in ingresses:
        t = treatments[_key(ingress)]
        result.notes.extend(t.notes)
        if ingress.meta.annotations.get(NGINX + "canary", "").strip().lower() in ("true", "1", "t"):
            continue
        builder = IngressRoutes(ingress, t, ctx)
        built = builder.build()
        result.notes.extend(builder.notes)
        head = _ingress_comments(ingress, t.notes) + builder.comments
        for route in built:
            _unique_name(route.document, used)
            route.comments[:0] = head
        routes.extend(built)
    for namespace, host, path in sorted(set(canaries) - ctx.used_canaries):
        result.notes.append(
            Note(
                NoteKind.LOST,
                "canary",
                "",
                f"the canary for {host or 'any host'} {path} in {namespace} has no main Ingress with the "
                "same host and path: it serves nothing (as in ingress-nginx) and is not migrated",
            )
        )
    documents = _gateway_documents(ingresses, listeners, options, gateway_comments)
    documents += grants_for(documents[-1].document, options)
    routes.sort(key=lambda r: _sort_key(r.document))
    documents += [GatewayDocument(r.document, tuple(r.comments)) for r in routes]
    for document in documents:
        for problem in check_object(document.document):
            result.notes.append(Note(NoteKind.PROBLEM, "output", "", problem))
    result.documents = documents
    return result


def _key(ingress: Ingress) -> tuple[str, str]:
    return (ingress.meta.namespace, ingress.meta.name)


def _sort_key(document: JsonMap) -> tuple[str, str]:
    meta = document.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


def _unique_name(document: JsonMap, used: set[tuple[str, str]]) -> None:
    meta = document["metadata"]
    assert isinstance(meta, dict)
    key = (str(meta["namespace"]), str(meta["name"]))
    if key in used:
        digest = hashlib.sha256(repr(document).encode()).hexdigest()[:6]
        meta["name"] = dns_name(f"{key[1]}-{digest}")
        key = (key[0], str(meta["name"]))
    used.add(key)


def _ingress_comments(ingress: Ingress, notes: list[Note]) -> list[str]:
    where = f" ({ingress.meta.location})" if ingress.meta.location is not None else ""
    lines = [f"From {ingress.ref}{where}."]
    lines += [n.comment() for n in notes if n.kind is not NoteKind.MIGRATED]
    return lines


def _canary_backends(ingress: Ingress, result: GatewayMigration) -> dict[tuple[str, str, str], CanaryBackend]:
    canary, _ = parse_canary(ingress)
    annotations = ingress.meta.annotations
    out: dict[tuple[str, str, str], CanaryBackend] = {}
    if canary is None:
        return out
    for rule in ingress.rules:
        for path in rule.paths:
            backend = path.backend
            if backend.service_name is None or backend.port_number is None:
                result.notes.append(
                    Note(
                        NoteKind.PROBLEM, str(ingress.ref), "", "a canary backend needs a Service port number"
                    )
                )
                continue
            out[(ingress.meta.namespace, (rule.host or "").lower(), path.path or "/")] = CanaryBackend(
                {"name": backend.service_name, "port": backend.port_number},
                canary.weight,
                canary.total,
                annotations.get(NGINX + "canary-by-header", "").strip(),
                annotations.get(NGINX + "canary-by-header-value", "").strip(),
                annotations.get(NGINX + "canary-by-header-pattern", "").strip(),
            )
    if NGINX + "canary-by-cookie" in annotations:
        result.notes.append(
            Note(
                NoteKind.LOST,
                str(ingress.ref),
                NGINX + "canary-by-cookie",
                "no Gateway API cookie match: only the weight and header rules are migrated",
            )
        )
    return out


def _regex_hosts(ingresses: Sequence[Ingress], treatments: dict[tuple[str, str], Treatment]) -> set[str]:
    """ingress-nginx makes every path of a host a regex when one Ingress of the host asks for it."""
    hosts: set[str] = set()
    for ingress in ingresses:
        if treatments[_key(ingress)].nginx_regex:
            hosts.update((rule.host or "").lower() for rule in ingress.rules)
    return hosts


def _listeners(
    ingresses: Sequence[Ingress], options: GatewayOptions, result: GatewayMigration
) -> tuple[list[ListenerInfo], list[str]]:
    listeners: list[ListenerInfo] = []
    comments: list[str] = []
    tls_hosts: set[str] = set()
    any_host = False  # a spec.tls entry without hosts: its Secret is for every host
    for ingress in ingresses:
        for tls in ingress.tls:
            any_host = any_host or (bool(tls.secret_name) and not tls.hosts)
            for host in tls.hosts:
                host = host.lower()
                if not tls.secret_name:
                    note = Note(
                        NoteKind.LOST,
                        str(ingress.ref),
                        "",
                        f"TLS host {host} names no Secret (ingressctl used ACME or its default certificate): "
                        "no HTTPS listener is written for it; issue a certificate (e.g. cert-manager) and "
                        "add the listener",
                    )
                    result.notes.append(note)
                    comments.append(note.comment())
                elif is_hostname(host):
                    tls_hosts.add(host)
                else:
                    result.notes.append(
                        Note(
                            NoteKind.PROBLEM,
                            str(ingress.ref),
                            "",
                            f"TLS host {host!r} is not a Gateway API hostname: no listener is written for it",
                        )
                    )
    for entrypoint in options.entrypoints:
        if not entrypoint.tls:
            listeners.append(
                ListenerInfo(dns_name(entrypoint.name), entrypoint.name, entrypoint.port, False, None)
            )
            continue
        for host in sorted(tls_hosts):
            name = dns_name(f"{entrypoint.name}-{host}")
            listeners.append(ListenerInfo(name, entrypoint.name, entrypoint.port, True, host))
        if any_host:
            listeners.append(
                ListenerInfo(dns_name(entrypoint.name), entrypoint.name, entrypoint.port, True, None)
            )
    return listeners, comments


def _certificate_refs(ingresses: Sequence[Ingress], host: str, options: GatewayOptions) -> list[JsonMap]:
    refs: dict[tuple[str, str], JsonMap] = {}
    for ingress in ingresses:
        for tls in ingress.tls:
            hosts = [h.lower() for h in tls.hosts]
            if tls.secret_name and (host in hosts if host else not hosts):
                ref: JsonMap = {"kind": "Secret", "name": tls.secret_name}
                if ingress.meta.namespace != options.namespace:
                    ref["namespace"] = ingress.meta.namespace
                refs[(ingress.meta.namespace, tls.secret_name)] = ref
    return [refs[k] for k in sorted(refs)][:MAX_CERTIFICATE_REFS]


def _gateway_documents(
    ingresses: Sequence[Ingress], listeners: list[ListenerInfo], options: GatewayOptions, comments: list[str]
) -> list[GatewayDocument]:
    out: list[GatewayDocument] = []
    if options.with_gateway_class:
        out.append(
            GatewayDocument(
                {
                    "apiVersion": API_VERSION,
                    "kind": "GatewayClass",
                    "metadata": {"name": options.gateway_class},
                    "spec": {"controllerName": options.controller_name},
                }
            )
        )
    others = sorted({i.meta.namespace for i in ingresses} - {options.namespace})
    allowed: JsonMap = {"namespaces": {"from": "Same"}}
    if others:
        allowed = {
            "namespaces": {
                "from": "Selector",
                "selector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": sorted({options.namespace, *others}),
                        }
                    ]
                },
            }
        }
    documents: list[JsonMap] = []
    for listener in listeners:
        entry: JsonMap = {"name": listener.name}
        if listener.hostname:
            entry["hostname"] = listener.hostname
        entry["port"] = listener.port
        entry["protocol"] = "HTTPS" if listener.tls else "HTTP"
        if listener.tls:
            entry["tls"] = {
                "mode": "Terminate",
                "certificateRefs": _certificate_refs(ingresses, listener.hostname or "", options),
            }
        entry["allowedRoutes"] = allowed
        documents.append(entry)
    gateway: JsonMap = {
        "apiVersion": API_VERSION,
        "kind": "Gateway",
        "metadata": {"name": options.name, "namespace": options.namespace},
        "spec": {"gatewayClassName": options.gateway_class, "listeners": documents},
    }
    head = [
        f"Generated by `ingressctl migrate --to gateway-api` from {len(ingresses)} Ingress(es).",
        "The Gateway API CRDs are not part of ingressctl: install them from kubernetes-sigs/gateway-api.",
    ]
    out.append(GatewayDocument(gateway, tuple(head + comments)))
    return out


def grants_for(gateway: JsonMap, options: GatewayOptions) -> list[GatewayDocument]:
    """ReferenceGrants for the certificateRefs of `gateway` that leave its namespace."""
    wanted: dict[str, set[str]] = {}
    spec = gateway.get("spec")
    listeners = spec.get("listeners") if isinstance(spec, dict) else None
    for listener in listeners if isinstance(listeners, list) else []:
        tls = listener.get("tls") if isinstance(listener, dict) else None
        refs = tls.get("certificateRefs") if isinstance(tls, dict) else None
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict) and "namespace" in ref:
                wanted.setdefault(str(ref["namespace"]), set()).add(str(ref["name"]))
    out: list[GatewayDocument] = []
    for namespace in sorted(wanted):
        names = sorted(wanted[namespace])
        chunks = [names[i : i + MAX_GRANT_TARGETS] for i in range(0, len(names), MAX_GRANT_TARGETS)]
        for index, chunk in enumerate(chunks):
            suffix = "" if index == 0 else f"-{index + 1}"
            out.append(
                GatewayDocument(
                    {
                        "apiVersion": GRANT_API_VERSION,
                        "kind": "ReferenceGrant",
                        "metadata": {
                            "name": dns_name(f"gateway-{options.namespace}-{options.name}-secrets{suffix}"),
                            "namespace": namespace,
                        },
                        "spec": {
                            "from": [{"group": GROUP, "kind": "Gateway", "namespace": options.namespace}],
                            "to": [{"group": "", "kind": "Secret", "name": name} for name in chunk],
                        },
                    },
                    (f"Lets Gateway {options.namespace}/{options.name} use TLS Secrets of {namespace}.",),
                )
            )
    return out
