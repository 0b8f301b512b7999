"""Service, Endpoints (core/v1) and EndpointSlice (discovery.k8s.io) → the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from ingressctl.manifests.fields import Context, Fields, only_known
from ingressctl.manifests.meta import read_meta
from ingressctl.model import (
    Endpoint,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    ObjectMeta,
    Service,
    ServicePort,
    builders,
)

ENDPOINT_SLICE_VERSIONS = frozenset({"discovery.k8s.io/v1", "discovery.k8s.io/v1beta1"})
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_SERVICE_TYPES = frozenset({"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})
_SERVICE_SPEC = frozenset(
    {
        "ports",
        "selector",
        "clusterIP",
        "clusterIPs",
        "type",
        "externalIPs",
        "sessionAffinity",
        "loadBalancerIP",
        "loadBalancerSourceRanges",
        "externalName",
        "externalTrafficPolicy",
        "healthCheckNodePort",
        "publishNotReadyAddresses",
        "sessionAffinityConfig",
        "ipFamilies",
        "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts",
        "loadBalancerClass",
        "internalTrafficPolicy",
        "trafficDistribution",
        "topologyKeys",
        "ipFamily",
    }
)
_SERVICE_PORT = frozenset({"name", "protocol", "appProtocol", "port", "targetPort", "nodePort"})
_ENDPOINT_PORT = frozenset({"name", "protocol", "appProtocol", "port"})
_SUBSET = frozenset({"addresses", "notReadyAddresses", "ports"})
_ADDRESS = frozenset({"ip", "hostname", "nodeName", "targetRef"})
_SLICE_ENDPOINT = frozenset(
    {
        "addresses",
        "conditions",
        "hostname",
        "nodeName",
        "targetRef",
        "zone",
        "hints",
        "deprecatedTopology",
        "topology",
    }
)
_CONDITIONS = frozenset({"ready", "serving", "terminating"})
_ADDRESS_TYPES = frozenset({"IPv4", "IPv6", "FQDN"})


def read_service(top: Fields, ctx: Context) -> Service | None:
    meta = read_meta(top, ctx)
    if meta is None:
        return None
    plain = _plain_service(top.raw, meta)
    if plain is not None:
        return plain
    spec = top.mapping("spec", required="A Service needs a spec with its ports.")
    if spec is None:
        return Service(meta=meta)
    spec.check_known(_SERVICE_SPEC, grows=True)
    kind = spec.string("type") or "ClusterIP"
    if kind not in _SERVICE_TYPES:
        spec.invalid(
            "type",
            f"{kind!r} is not a Service type",
            "Use ClusterIP, NodePort, LoadBalancer or ExternalName.",
        )
    external_name = spec.string("externalName") or ""
    if kind == "ExternalName" and not external_name:
        spec.missing("externalName", "An ExternalName Service names the DNS name it stands for.")
    ports: list[ServicePort] = []
    for item in spec.mappings("ports"):
        item.check_known(_SERVICE_PORT, grows=True)
        number = item.integer("port", required="Each Service port needs its port number.", port=True)
        target_number, target_name = item.int_or_string("targetPort", required=False)
        if number is None:
            continue
        ports.append(
            ServicePort(
                port=number,
                name=item.string("name") or "",
                target_port=target_number if target_number is not None else target_name,
                protocol=item.string("protocol") or "TCP",
                app_protocol=item.string("appProtocol") or "",
            )
        )
    return Service(
        meta=meta,
        type=kind,
        ports=tuple(ports),
        cluster_ip=spec.string("clusterIP") or "",
        external_name=external_name,
    )


def _endpoint_ports(fields: Fields) -> tuple[EndpointPort, ...]:
    ports: list[EndpointPort] = []
    for item in fields.mappings("ports"):
        item.check_known(_ENDPOINT_PORT, grows=True)
        # An EndpointSlice port without a number means "all ports"; no Service uses that, so it is left out.
        number = item.integer("port", port=True)
        if number is None:
            continue
        ports.append(
            EndpointPort(
                port=number, name=item.string("name") or "", protocol=item.string("protocol") or "TCP"
            )
        )
    return tuple(ports)


def _target_ref(fields: Fields, namespace: str) -> str:
    ref = fields.mapping("targetRef")
    if ref is None:
        return ""
    kind = ref.string("kind") or "Pod"
    name = ref.string("name") or ""
    return f"{kind} {ref.string('namespace') or namespace}/{name}" if name else ""


def read_endpoint_slice(top: Fields, ctx: Context) -> EndpointSlice | None:
    meta = read_meta(top, ctx)
    if meta is None:
        return None
    plain = _plain_endpoint_slice(top.raw, meta, ctx.api_version)
    if plain is not None:
        return plain
    address_type = top.string("addressType", required="Write addressType: IPv4 (or IPv6, FQDN).") or "IPv4"
    if address_type not in _ADDRESS_TYPES:
        top.invalid("addressType", f"{address_type!r} is not an address type", "Use IPv4, IPv6 or FQDN.")
    service_name = meta.labels.get(SERVICE_NAME_LABEL, "")
    if not service_name:
        ctx.report(
            "IC111",
            top.key_loc("metadata"),
            f"no {SERVICE_NAME_LABEL} label",
            f"Add the label {SERVICE_NAME_LABEL}: <service> so the slice serves that Service.",
        )
    endpoints: list[Endpoint] = []
    for item in top.mappings("endpoints"):
        item.check_known(_SLICE_ENDPOINT, grows=True)
        addresses = item.strings("addresses")
        if not item.has("addresses"):
            item.missing("addresses", "List the endpoint's addresses.")
        conditions = item.mapping("conditions")
        ready = serving = terminating = None
        if conditions is not None:
            conditions.check_known(_CONDITIONS, grows=True)
            ready = conditions.boolean("ready")
            serving = conditions.boolean("serving")
            terminating = conditions.boolean("terminating")
        endpoints.append(
            Endpoint(
                addresses=addresses,
                ready=ready,
                serving=serving,
                terminating=terminating,
                node_name=item.string("nodeName") or "",
                target_ref=_target_ref(item, meta.namespace),
            )
        )
    return EndpointSlice(
        meta=meta,
        service_name=service_name,
        address_type=address_type,
        ports=_endpoint_ports(top),
        endpoints=tuple(endpoints),
        api_version=ctx.api_version,
    )


def read_endpoints(top: Fields, ctx: Context) -> Endpoints | None:
    meta = read_meta(top, ctx)
    if meta is None:
        return None
    subsets: list[EndpointSubset] = []
    for subset in top.mappings("subsets"):
        subset.check_known(_SUBSET, grows=True)
        ready = _addresses(subset, "addresses")
        not_ready = _addresses(subset, "notReadyAddresses")
        subsets.append(
            EndpointSubset(addresses=ready, not_ready_addresses=not_ready, ports=_endpoint_ports(subset))
        )
    return Endpoints(meta=meta, subsets=tuple(subsets))


def _addresses(subset: Fields, key: str) -> tuple[str, ...]:
    out: list[str] = []
    for address in subset.mappings(key):
        address.check_known(_ADDRESS, grows=True)
        ip = address.string("ip", required="Each address needs its ip.", allow_empty=False)
        if ip is not None:
            out.append(ip)
    return tuple(out)


# Shortcuts for the shapes nearly every Service and EndpointSlice of a file has, read from the raw
# mappings without a Fields per mapping. Each answers None for anything the general reader would
# report (a wrong type, a missing or unknown key, a value out of range): that reader then reads the
# object, with its findings. tests/manifests/test_plain_shapes.py checks both give the same.


def _plain_service(raw: Mapping[str, Any], meta: ObjectMeta) -> Service | None:
    spec = raw.get("spec")
    if not isinstance(spec, dict) or not only_known(_SERVICE_SPEC, spec):
        return None
    kind = spec.get("type")
    external_name = spec.get("externalName")
    cluster_ip = spec.get("clusterIP")
    if not all(value is None or type(value) is str for value in (kind, external_name, cluster_ip)):
        return None
    kind = kind or "ClusterIP"
    if kind not in _SERVICE_TYPES or (kind == "ExternalName" and not external_name):
        return None
    items = spec.get("ports")
    ports: list[ServicePort] = []
    if items is not None:
        if not isinstance(items, list):
            return None
        for item in items:
            port = _plain_service_port(item)
            if port is None:
                return None
            ports.append(port)
    # Positional, every builder call: keywords cost as much as building the object.
    return builders.service(meta, kind, tuple(ports), cluster_ip or "", external_name or "")


def _plain_service_port(item: object) -> ServicePort | None:
    if not isinstance(item, dict) or not only_known(_SERVICE_PORT, item):
        return None
    number = item.get("port")
    if not _port_number(number):
        return None
    target = item.get("targetPort")
    if type(target) is str:
        if not target or target.isdigit():
            return None
    elif target is not None and not _port_number(target):
        return None
    name = item.get("name")
    protocol = item.get("protocol")
    app_protocol = item.get("appProtocol")
    if not all(value is None or type(value) is str for value in (name, protocol, app_protocol)):
        return None
    return builders.service_port(number, name or "", target, protocol or "TCP", app_protocol or "")


def _port_number(value: object) -> TypeGuard[int]:
    return type(value) is int and 1 <= value <= 65535


def _plain_endpoint_slice(raw: Mapping[str, Any], meta: ObjectMeta, api_version: str) -> EndpointSlice | None:
    address_type = raw.get("addressType")
    service_name = meta.labels.get(SERVICE_NAME_LABEL, "")
    if type(address_type) is not str or not service_name:
        return None
    address_type = address_type or "IPv4"
    if address_type not in _ADDRESS_TYPES:
        return None
    endpoints: list[Endpoint] = []
    for item in _plain_list(raw.get("endpoints")) or ():
        endpoint = _plain_endpoint(item)
        if endpoint is None:
            return None
        endpoints.append(endpoint)
    ports: list[EndpointPort] = []
    for item in _plain_list(raw.get("ports")) or ():
        if not isinstance(item, dict) or not only_known(_ENDPOINT_PORT, item):
            return None
        number = item.get("port")
        name = item.get("name")
        protocol = item.get("protocol")
        if not all(value is None or type(value) is str for value in (name, protocol)):
            return None
        if number is None:
            continue  # "all ports": left out, as _endpoint_ports does
        if not _port_number(number):
            return None
        ports.append(builders.endpoint_port(number, name or "", protocol or "TCP"))
    if raw.get("endpoints") is not None and not isinstance(raw.get("endpoints"), list):
        return None
    if raw.get("ports") is not None and not isinstance(raw.get("ports"), list):
        return None
    return builders.endpoint_slice(
        meta, service_name, address_type, tuple(ports), tuple(endpoints), api_version
    )


def _plain_list(value: object) -> list[Any] | None:
    return value if isinstance(value, list) else None


def _plain_endpoint(item: object) -> Endpoint | None:
    if not isinstance(item, dict) or not only_known(_SLICE_ENDPOINT, item):
        return None
    addresses = item.get("addresses")
    node_name = item.get("nodeName")
    if not isinstance(addresses, list) or item.get("targetRef") is not None:
        return None
    if not all(type(address) is str for address in addresses):
        return None
    if node_name is not None and type(node_name) is not str:
        return None
    conditions = item.get("conditions")
    ready = serving = terminating = None
    if conditions is not None:
        if not isinstance(conditions, dict) or not only_known(_CONDITIONS, conditions):
            return None
        ready = conditions.get("ready")
        serving = conditions.get("serving")
        terminating = conditions.get("terminating")
        if not all(value is None or type(value) is bool for value in (ready, serving, terminating)):
            return None
    return builders.endpoint(tuple(addresses), ready, serving, terminating, node_name or "", "")
