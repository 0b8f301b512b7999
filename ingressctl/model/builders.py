"""Builders of the model objects that reading a large input makes by the hundred thousand.

Calling a class with keywords is the slow way to make a frozen dataclass: `type.__call__` packs
the arguments into a tuple and a dict, `__init__` runs as a Python frame, and each field is set
through `object.__setattr__` (a wrapper call, two tuples). Reading 30,000 objects makes about
300,000 of them: a third of normalising went there (an ObjectMeta made by keywords cost
over 10,000 instructions).

The reading modules call these functions instead, with every field given: `builders.location(
file, line, column)` (through the module, so that `speed_up` reaches callers compiled by mypyc).
Until `speed_up` runs, each calls its class (nothing to prepare at start-up, when a small input
would not repay it). `speed_up` (from `fast_init.speed_up_model`, for large inputs) replaces each
with a generated function that sets the fields on an instance of a plain class with the same
slots (a store into a slot, no call) and then gives it its model class: `__class__` assignment,
which Python allows between classes of the same layout. What comes out is what the class makes:
the same class, fields, equality, hash, repr, pickle and frozenness (tests/manifests/test_fast_init.py).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping

from ingressctl.model.location import Location
from ingressctl.model.objects import (
    Endpoint,
    EndpointPort,
    EndpointSlice,
    Ingress,
    IngressBackend,
    IngressPath,
    IngressRule,
    IngressTLS,
    ObjectMeta,
    PathType,
    Service,
    ServicePort,
)

# Each builder: the parameters are the class's fields, in order, none with a default.


def location(file: str, line: int, column: int) -> Location:
    return Location(file, line, column)


def object_meta(
    name: str,
    namespace: str,
    uid: str,
    resource_version: str,
    creation_timestamp: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    location: Location | None,
    annotation_locations: Mapping[str, Location],
    generation: int,
) -> ObjectMeta:
    return ObjectMeta(
        name,
        namespace,
        uid,
        resource_version,
        creation_timestamp,
        labels,
        annotations,
        location,
        annotation_locations,
        generation,
    )


def ingress_backend(
    service_name: str | None,
    port_number: int | None,
    port_name: str | None,
    resource_kind: str | None,
    resource_name: str | None,
    location: Location | None,
    port_location: Location | None,
) -> IngressBackend:
    return IngressBackend(
        service_name, port_number, port_name, resource_kind, resource_name, location, port_location
    )


def ingress_path(
    path: str, path_type: PathType | None, backend: IngressBackend, location: Location | None
) -> IngressPath:
    return IngressPath(path, path_type, backend, location)


def ingress_rule(
    host: str | None,
    paths: tuple[IngressPath, ...],
    location: Location | None,
    host_location: Location | None,
) -> IngressRule:
    return IngressRule(host, paths, location, host_location)


def ingress_tls(hosts: tuple[str, ...], secret_name: str | None, location: Location | None) -> IngressTLS:
    return IngressTLS(hosts, secret_name, location)


def ingress(
    meta: ObjectMeta,
    api_version: str,
    ingress_class_name: str | None,
    default_backend: IngressBackend | None,
    rules: tuple[IngressRule, ...],
    tls: tuple[IngressTLS, ...],
) -> Ingress:
    return Ingress(meta, api_version, ingress_class_name, default_backend, rules, tls)


def service_port(
    port: int, name: str, target_port: int | str | None, protocol: str, app_protocol: str
) -> ServicePort:
    return ServicePort(port, name, target_port, protocol, app_protocol)


def service(
    meta: ObjectMeta, type: str, ports: tuple[ServicePort, ...], cluster_ip: str, external_name: str
) -> Service:
    return Service(meta, type, ports, cluster_ip, external_name)


def endpoint_port(port: int, name: str, protocol: str) -> EndpointPort:
    return EndpointPort(port, name, protocol)


def endpoint(
    addresses: tuple[str, ...],
    ready: bool | None,
    serving: bool | None,
    terminating: bool | None,
    node_name: str,
    target_ref: str,
) -> Endpoint:
    return Endpoint(addresses, ready, serving, terminating, node_name, target_ref)


def endpoint_slice(
    meta: ObjectMeta,
    service_name: str,
    address_type: str,
    ports: tuple[EndpointPort, ...],
    endpoints: tuple[Endpoint, ...],
    api_version: str,
) -> EndpointSlice:
    return EndpointSlice(meta, service_name, address_type, ports, endpoints, api_version)


# builder name → its class
BUILT: dict[str, type] = {
    "location": Location,
    "object_meta": ObjectMeta,
    "ingress_backend": IngressBackend,
    "ingress_path": IngressPath,
    "ingress_rule": IngressRule,
    "ingress_tls": IngressTLS,
    "ingress": Ingress,
    "service_port": ServicePort,
    "service": Service,
    "endpoint_port": EndpointPort,
    "endpoint": Endpoint,
    "endpoint_slice": EndpointSlice,
}


def fast_builder(cls: type, name: str) -> Callable[..., object] | None:
    """The fast builder of `cls` (parameters: its fields, in order), or None when `cls` is not a
    frozen slotted dataclass straight on `object` whose layout a plain class can copy."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or cls.__bases__ != (object,) or hasattr(cls, "__post_init__"):
        return None
    names = [f.name for f in dataclasses.fields(cls)]
    slots = cls.__dict__.get("__slots__")
    if slots is None or tuple(slots) != tuple(names) or any(n.startswith("__") for n in names):
        return None
    # Only the slots: no __setattr__ of its own, so `made.x = x` stores into the slot.
    plain = type(f"{cls.__name__}Fields", (), {"__slots__": tuple(names), "__module__": __name__})
    try:
        plain().__class__ = cls  # the same layout, or Python refuses (TypeError)
    except TypeError:
        return None
    lines = [
        f"def {name}({', '.join(names)}):",
        "    made = _plain()",
        *(f"    made.{field} = {field}" for field in names),
        "    made.__class__ = _cls",
        "    return made",
    ]
    source = "\n".join(lines) + "\n"
    namespace: dict[str, object] = {"_plain": plain, "_cls": cls}
    exec(source, namespace)
    builder = namespace[name]
    assert callable(builder)
    builder.__module__ = __name__
    builder.__doc__ = f"A {cls.__name__} (see ingressctl.model.builders)."
    return builder


_done = False


def speed_up() -> None:
    """Replace every builder with its fast version (once)."""
    global _done
    if _done:
        return
    _done = True
    module = sys.modules[__name__]
    for name, cls in BUILT.items():
        builder = fast_builder(cls, name)
        if builder is not None:
            setattr(module, name, builder)
