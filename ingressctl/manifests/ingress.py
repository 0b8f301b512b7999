"""Ingress (extensions/v1beta1, networking.k8s.io/v1beta1 and v1) and IngressClass → the model."""

from __future__ import annotations

from ingressctl.manifests import apirules
from ingressctl.manifests.fields import Context, Fields, only_known, values_at
from ingressctl.manifests.meta import read_meta
from ingressctl.manifests.positioned import PosDict, PosList
from ingressctl.model import (
    Ingress,
    IngressBackend,
    IngressClass,
    IngressPath,
    IngressRule,
    IngressTLS,
    Location,
    PathType,
    builders,
)

V1 = "networking.k8s.io/v1"
LEGACY_VERSIONS = frozenset({"extensions/v1beta1", "networking.k8s.io/v1beta1"})
INGRESS_VERSIONS = LEGACY_VERSIONS | {V1}
INGRESS_CLASS_VERSIONS = frozenset({V1, "networking.k8s.io/v1beta1"})

_MIGRATE = "`ingressctl migrate` rewrites a v1beta1 Ingress into networking.k8s.io/v1."
_SPEC_V1 = frozenset({"ingressClassName", "defaultBackend", "rules", "tls"})
_SPEC_LEGACY = frozenset({"ingressClassName", "backend", "rules", "tls"})
_RULE = frozenset({"host", "http"})
_HTTP = frozenset({"paths"})
_PATH = frozenset({"path", "pathType", "backend"})
_BACKEND_V1 = frozenset({"service", "resource"})
_BACKEND_LEGACY = frozenset({"serviceName", "servicePort", "resource"})
_SERVICE = frozenset({"name", "port"})
_PORT = frozenset({"number", "name"})
_RESOURCE = frozenset({"apiGroup", "kind", "name"})
_TLS = frozenset({"hosts", "secretName"})

_V1_HINTS = {
    "backend": f"networking.k8s.io/v1 calls it defaultBackend. {_MIGRATE}",
    "serviceName": f"networking.k8s.io/v1 writes service: {{name: ..., port: {{number: ...}}}}. {_MIGRATE}",
    "servicePort": f"networking.k8s.io/v1 writes service: {{name: ..., port: {{number: ...}}}}. {_MIGRATE}",
}
_LEGACY_HINTS = {
    "defaultBackend": "v1beta1 calls it backend; defaultBackend is the networking.k8s.io/v1 name.",
    "service": "v1beta1 writes serviceName and servicePort; service: {name, port} is the v1 form.",
}
_PATH_TYPES = {t.value: t for t in PathType}
_HOST_HINT = (
    "Write a lower-case DNS name (shop.example.com) or one leading wildcard label (*.example.com), "
    "without a port; an IP address is not a host."
)
_NAME_HINT = "Use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit."
_PORT_NAME_HINT = (
    "A port name is at most 15 lower-case letters, digits and single '-', with at least one letter."
)


def refused(
    fields: Fields, key: str, value: object, errors: list[str], hint: str, where: Location | None = None
) -> None:
    """Report what the API server would refuse (IC114): `kubectl apply` fails, whatever the class."""
    if not errors:
        return
    fields.ctx.report(
        "IC114",
        where or fields.value_loc(key),
        f"{fields.sub(key)}: {value!r} {'; '.join(errors)}; the API server refuses this Ingress",
        hint,
    )


def read_ingress(top: Fields, ctx: Context) -> Ingress | None:
    v1 = ctx.api_version == V1
    meta = read_meta(top, ctx, api_rules=True)
    if meta is None:
        return None
    spec = top.mapping("spec", required="An Ingress needs a spec with rules or a defaultBackend.")
    if spec is None:
        return Ingress(meta=meta, api_version=ctx.api_version)
    spec.check_known(_SPEC_V1 if v1 else _SPEC_LEGACY, _V1_HINTS if v1 else _LEGACY_HINTS)
    default_key = "defaultBackend" if v1 else "backend"
    default_fields = spec.mapping(default_key)
    default_backend = _backend(default_fields, v1) if default_fields is not None else None
    rules = tuple(_rule(item, v1) for item in spec.mappings("rules"))
    if not spec.raw.get("rules") and default_fields is None:
        spec.missing("rules", f"An Ingress needs rules, or a {default_key} that receives every request.")
    tls: list[IngressTLS] = []
    for item in spec.mappings("tls"):
        item.check_known(_TLS)
        hosts = item.strings("hosts")
        for host in hosts:
            # At the section's location, where the compiler reports the host it leaves out.
            refused(item, "hosts", host, apirules.tls_host(host), _HOST_HINT, where=item.location)
        secret_name = item.string("secretName")
        if secret_name:
            refused(item, "secretName", secret_name, apirules.dns1123_subdomain(secret_name), _NAME_HINT)
        tls.append(builders.ingress_tls(hosts, secret_name, item.location))
    class_name = spec.string("ingressClassName", allow_empty=False)
    if class_name:
        refused(spec, "ingressClassName", class_name, apirules.dns1123_subdomain(class_name), _NAME_HINT)
    # Positional, every builder call: keywords cost as much as building the object.
    return builders.ingress(meta, ctx.api_version, class_name, default_backend, rules, tuple(tls))


def _rule(rule: Fields, v1: bool) -> IngressRule:
    if v1:
        plain = _plain_rule(rule)
        if plain is not None:
            return plain
    rule.check_known(_RULE)
    host = rule.string("host")
    if host:
        refused(rule, "host", host, apirules.rule_host(host), _HOST_HINT)
    http = rule.mapping("http")
    paths: list[IngressPath] = []
    if http is not None:
        http.check_known(_HTTP)
        items = http.items("paths", required="Under http, list the paths this host serves.")
        if items is not None and not items:
            http.invalid("paths", "must list at least one path", "List at least one path, or remove http.")
        paths = [_path(item, v1) for item in http.mappings("paths")]
    return IngressRule(
        host=host if host else None,
        paths=tuple(paths),
        location=rule.location,
        host_location=rule.value_loc("host") if host else None,
    )


def _path(item: Fields, v1: bool) -> IngressPath:
    if v1:
        plain = _plain_path(item)
        if plain is not None:
            return plain
    item.check_known(_PATH)
    path = item.string("path")
    path_type: PathType | None = None
    raw_type = item.string("pathType")
    if raw_type is not None:
        path_type = _PATH_TYPES.get(raw_type)
        if path_type is None:
            item.ctx.report(
                "IC106",
                item.value_loc("pathType"),
                f"{item.sub('pathType')}: {raw_type!r} is not a path type",
                "Use Exact, Prefix or ImplementationSpecific (case matters).",
            )
    elif v1 and not item.has("pathType"):
        item.ctx.report(
            "IC104",
            item.location,
            f"{item.sub('pathType')}: required in networking.k8s.io/v1",
            "Add pathType: Prefix (whole path segments) or ImplementationSpecific (the v1beta1 behaviour).",
        )
    if path:
        if not path.startswith("/"):
            item.ctx.report(
                "IC105",
                item.value_loc("path"),
                f"{item.sub('path')}: {path!r} does not start with '/'",
                f"Write the path as an absolute path: /{path.lstrip('/')}.",
            )
        elif path_type in (PathType.EXACT, PathType.PREFIX):
            refused(
                item,
                "path",
                path,
                apirules.http_path(path, path_type.value),
                "Write the path without empty, '.' or '..' segments and without an encoded '/' (%2F).",
            )
    elif path_type in (PathType.EXACT, PathType.PREFIX):
        item.ctx.report(
            "IC105",
            item.value_loc("path") if item.has("path") else item.location,
            f"{item.sub('path')}: pathType {path_type.value} needs a path starting with '/'",
            "Write path: / to match every request.",
        )
    backend_fields = item.mapping(
        "backend", required="Every path needs a backend (the Service it routes to)."
    )
    backend = (
        _backend(backend_fields, v1) if backend_fields is not None else IngressBackend(location=item.location)
    )
    return IngressPath(path=path or "", path_type=path_type, backend=backend, location=item.location)


def _backend(fields: Fields, v1: bool) -> IngressBackend:
    if v1:
        plain = _plain_service_backend(fields)
        if plain is not None:
            return plain
    unknown = fields.check_known(_BACKEND_V1 if v1 else _BACKEND_LEGACY, _V1_HINTS if v1 else _LEGACY_HINTS)
    resource = fields.mapping("resource")
    resource_kind = resource_name = None
    if resource is not None:
        resource.check_known(_RESOURCE)
        resource_kind = resource.string("kind", required="A resource backend names its kind.")
        resource_name = resource.string("name", required="A resource backend names its object.")
    if v1:
        return _backend_v1(
            fields, resource_kind, resource_name, legacy_used=not _V1_HINTS.keys().isdisjoint(unknown)
        )
    return _backend_legacy(fields, resource_kind, resource_name)


def _backend_v1(
    fields: Fields, resource_kind: str | None, resource_name: str | None, *, legacy_used: bool
) -> IngressBackend:
    service = fields.mapping("service")
    if service is not None and fields.has("resource"):
        fields.ctx.report(
            "IC112",
            fields.location,
            f"{fields.path}: has both service and resource",
            "A backend is either a service or a resource; remove one.",
        )
    if service is None:
        if not fields.has("resource") and not fields.has("service") and not legacy_used:
            fields.missing(
                "service", "Name the Service and its port: service: {name: web, port: {number: 80}}."
            )
        return IngressBackend(
            resource_kind=resource_kind, resource_name=resource_name, location=fields.location
        )
    service.check_known(_SERVICE)
    name = service.string(
        "name", required="Name the Service this backend sends requests to.", allow_empty=False
    )
    port = service.mapping(
        "port", required="Give the Service port: port: {number: 80} or port: {name: http}."
    )
    if name:
        refused(
            service,
            "name",
            name,
            apirules.dns1035_label(name),
            "A Service name is a DNS-1035 label: lower-case letters, digits and '-', starting with a letter.",
        )
    number = port_name = None
    port_location = service.location
    if port is not None:
        port.check_known(_PORT)
        number = port.integer("number", port=True)
        port_name = port.string("name", allow_empty=False)
        if port_name:
            refused(port, "name", port_name, apirules.port_name(port_name), _PORT_NAME_HINT)
        has_number = port.has("number")
        has_name = port.has("name")
        if has_number and has_name:
            port.ctx.report(
                "IC112",
                port.location,
                f"{port.path}: has both number and name",
                "Give the port either by number or by name, not both.",
            )
        elif not has_number and not has_name:
            port.missing("number", "Write port: {number: 80} or port: {name: http}.")
        port_location = port.value_loc("number" if has_number else "name")
    return IngressBackend(
        service_name=name,
        port_number=number,
        port_name=port_name,
        resource_kind=resource_kind,
        resource_name=resource_name,
        location=fields.location,
        port_location=port_location,
    )


def _plain_service_backend(fields: Fields) -> IngressBackend | None:
    """The backend nearly every Ingress of a file has, read without a Fields per mapping:
    `service: {name: <DNS-1035 label>, port: {number: 1-65535}}` (or a valid port `name`).

    None for anything else (another shape, a wrong type, a value the API refuses, an object not
    read from a file): `_backend_v1` reads it, with its findings. For this shape it would report
    nothing and build the same IngressBackend.
    """
    service = _plain_service(fields.raw, fields.ctx.file)
    if service is None:
        return None
    name, number, port_name, port_location = service
    # No resource kind nor name.
    return builders.ingress_backend(name, number, port_name, None, None, fields.location, port_location)


def _plain_service(raw: object, file: str) -> tuple[str, int | None, str | None, Location] | None:
    """(name, port number, port name, port location) of `_plain_service_backend`'s shape."""
    if type(raw) is not PosDict or len(raw) != 1 or not file:
        return None
    service = raw.get("service")
    if type(service) is not PosDict or len(service) != 2:
        return None
    name = service.get("name")
    port = service.get("port")
    if type(name) is not str or not name or type(port) is not PosDict or len(port) != 1:
        return None
    if apirules.dns1035_label(name):
        return None
    number = port.get("number")
    port_name = None
    if number is not None:
        if type(number) is not int or not 1 <= number <= 65535:
            return None
        packed = values_at(port).get("number")
    else:
        port_name = port.get("name")
        if type(port_name) is not str or not port_name or apirules.port_name(port_name):
            return None
        packed = values_at(port).get("name")
    if packed is None:
        return None
    return name, number, port_name, builders.location(file, packed >> 32, packed & 0xFFFFFFFF)


def _plain_path(item: Fields) -> IngressPath | None:
    """A v1 path of the common shape, `path` (absolute, accepted by the API), `pathType` and a
    `_plain_service_backend` backend, read without a Fields per mapping; None for anything else
    (`_path` reads it, with its findings; for this shape it would report nothing)."""
    return _plain_path_at(item.raw, item.ctx.file, item.location)


def _plain_path_at(raw: object, file: str, location: Location | None) -> IngressPath | None:
    """`_plain_path` of a raw path item that stands at `location`."""
    if type(raw) is not PosDict or len(raw) != 3:
        return None
    path = raw.get("path")
    raw_type = raw.get("pathType")
    if type(path) is not str or not path.startswith("/") or type(raw_type) is not str:
        return None
    path_type = _PATH_TYPES.get(raw_type)
    if path_type is None:
        return None
    # raw_type, not path_type.value: an enum's value is a Python-level property.
    if raw_type != "ImplementationSpecific" and apirules.http_path(path, raw_type):
        return None
    service = _plain_service(raw.get("backend"), file)
    if service is None:
        return None
    name, number, port_name, port_location = service
    packed = values_at(raw).get("backend")
    at = location if packed is None else builders.location(file, packed >> 32, packed & 0xFFFFFFFF)
    # Positional (no resource kind nor name): keywords cost as much as building the object.
    backend = builders.ingress_backend(name, number, port_name, None, None, at, port_location)
    return builders.ingress_path(path, path_type, backend, location)


def _plain_rule(rule: Fields) -> IngressRule | None:
    """A v1 rule of the common shape: a host the API accepts (or none) and `http.paths`, each a
    `_plain_path`, read without a Fields per mapping; None for anything else (`_rule` reads it,
    with its findings; for this shape it would report nothing)."""
    raw = rule.raw
    file = rule.ctx.file
    if not file or not only_known(_RULE, raw):
        return None
    host = raw.get("host")
    if host is not None and (type(host) is not str or (host and apirules.rule_host(host))):
        return None
    http = raw.get("http")
    if type(http) is not PosDict or len(http) != 1:
        return None
    items = http.get("paths")
    if type(items) is not PosList or not items or len(items.items_at) != len(items):
        return None
    paths: list[IngressPath] = []
    for item, packed in zip(items, items.items_at, strict=True):
        path = _plain_path_at(item, file, builders.location(file, packed >> 32, packed & 0xFFFFFFFF))
        if path is None:
            return None
        paths.append(path)
    host_location = rule.value_loc("host") if host else None
    return builders.ingress_rule(host if host else None, tuple(paths), rule.location, host_location)


def _backend_legacy(fields: Fields, resource_kind: str | None, resource_name: str | None) -> IngressBackend:
    if fields.has("resource") and (fields.has("serviceName") or fields.has("servicePort")):
        fields.ctx.report(
            "IC112",
            fields.location,
            f"{fields.path}: has both serviceName and resource",
            "A backend is either a service or a resource; remove one.",
        )
    if fields.has("resource") and not fields.has("serviceName"):
        return IngressBackend(
            resource_kind=resource_kind, resource_name=resource_name, location=fields.location
        )
    required = None if fields.has("service") else "Name the Service this backend sends requests to."
    name = fields.string("serviceName", required=required, allow_empty=False)
    number, port_name = fields.int_or_string("servicePort", required=required is not None)
    if name:
        refused(fields, "serviceName", name, apirules.dns1035_label(name), _NAME_HINT)
    if port_name:
        refused(fields, "servicePort", port_name, apirules.port_name(port_name), _PORT_NAME_HINT)
    return IngressBackend(
        service_name=name,
        port_number=number,
        port_name=port_name,
        location=fields.location,
        port_location=fields.value_loc("servicePort") if fields.has("servicePort") else fields.location,
    )


def read_ingress_class(top: Fields, ctx: Context) -> IngressClass | None:
    meta = read_meta(top, ctx, namespaced=False)
    if meta is None:
        return None
    spec = top.mapping("spec")
    controller = ""
    if spec is not None:
        spec.check_known(frozenset({"controller", "parameters"}))
        controller = spec.string("controller") or ""
    return IngressClass(meta=meta, controller=controller, api_version=ctx.api_version)
