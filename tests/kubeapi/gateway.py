"""The Gateway API kinds as a cluster with the Gateway API CRDs installed serves them.

Custom resources are served under `/apis/gateway.networking.k8s.io/<version>` like built-in kinds, with a
`status` subresource. What the real API server adds, and controllers rely on, is the CRD schemas'
OpenAPI defaults, applied on every write (and so visible on every read): `apply_defaults` applies those
of the standard-channel CRDs (v1.2) for the fields a controller reads. A freshly created GatewayClass
or Gateway also carries the schema's default status ("Waiting for controller", `Unknown`/`Pending`),
which a controller must overwrite: it does not say the object was accepted.

ReferenceGrant is served as v1beta1 and v1 from one storage (the schemas are identical): an object
written through one version reads back through the other with that version's apiVersion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

GROUP = "gateway.networking.k8s.io"
# The CRD schemas default `lastTransitionTime` of the initial conditions to the epoch.
EPOCH = "1970-01-01T00:00:00Z"


def _pending(kind: str) -> Obj:
    return {
        "type": kind,
        "status": "Unknown",
        "reason": "Pending",
        "message": "Waiting for controller",
        "lastTransitionTime": EPOCH,
    }


def _default(obj: Obj, key: str, value: Any) -> Any:
    """`obj[key]`, set to `value` first when absent (OpenAPI defaulting: only missing fields)."""
    if key not in obj or obj[key] is None:
        obj[key] = value
    return obj[key]


def _dicts(value: Any) -> list[Obj]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _backend_ref(ref: Obj, *, weight: bool) -> None:
    _default(ref, "group", "")
    _default(ref, "kind", "Service")
    if weight:
        _default(ref, "weight", 1)


def _filters(filters: Any) -> None:
    for flt in _dicts(filters):
        redirect = flt.get("requestRedirect")
        if isinstance(redirect, dict):
            _default(redirect, "statusCode", 302)
        mirror = flt.get("requestMirror")
        if isinstance(mirror, dict) and isinstance(mirror.get("backendRef"), dict):
            _backend_ref(mirror["backendRef"], weight=False)


def _root_match() -> Obj:
    return {"path": {"type": "PathPrefix", "value": "/"}}


def gateway_class_defaults(obj: Obj) -> None:
    _default(obj, "status", {"conditions": [_pending("Accepted")]})


def gateway_defaults(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        for address in _dicts(spec.get("addresses")):
            _default(address, "type", "IPAddress")
        for listener in _dicts(spec.get("listeners")):
            allowed = _default(listener, "allowedRoutes", {"namespaces": {"from": "Same"}})
            if isinstance(allowed, dict):
                namespaces = _default(allowed, "namespaces", {"from": "Same"})
                if isinstance(namespaces, dict):
                    _default(namespaces, "from", "Same")
                for kind in _dicts(allowed.get("kinds")):
                    _default(kind, "group", GROUP)
            tls = listener.get("tls")
            if isinstance(tls, dict):
                _default(tls, "mode", "Terminate")
                for ref in _dicts(tls.get("certificateRefs")):
                    _default(ref, "group", "")
                    _default(ref, "kind", "Secret")
    _default(obj, "status", {"conditions": [_pending("Accepted"), _pending("Programmed")]})


def http_route_defaults(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for ref in _dicts(spec.get("parentRefs")):
        _default(ref, "group", GROUP)
        _default(ref, "kind", "Gateway")
    rules = _default(spec, "rules", [{"matches": [_root_match()]}])
    for rule in _dicts(rules):
        matches = _default(rule, "matches", [_root_match()])
        for match in _dicts(matches):
            path = _default(match, "path", {"type": "PathPrefix", "value": "/"})
            if isinstance(path, dict):
                _default(path, "type", "PathPrefix")
                _default(path, "value", "/")
            for header in _dicts(match.get("headers")):
                _default(header, "type", "Exact")
            for param in _dicts(match.get("queryParams")):
                _default(param, "type", "Exact")
        _filters(rule.get("filters"))
        for ref in _dicts(rule.get("backendRefs")):
            _backend_ref(ref, weight=True)
            _filters(ref.get("filters"))


def reference_grant_defaults(obj: Obj) -> None:
    """ReferenceGrant's schema has no defaults; listed so every Gateway API kind has its entry."""


DEFAULTS: dict[str, Callable[[Obj], None]] = {
    "GatewayClass": gateway_class_defaults,
    "Gateway": gateway_defaults,
    "HTTPRoute": http_route_defaults,
    "ReferenceGrant": reference_grant_defaults,
}


def required_fields(obj: Obj) -> str:
    """The first required field the CRD schema asks for that `obj` lacks ("" when none): a 422."""
    kind = obj.get("kind", "")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return "spec"
    if kind == "GatewayClass" and not spec.get("controllerName"):
        return "spec.controllerName"
    if kind == "Gateway":
        if not spec.get("gatewayClassName"):
            return "spec.gatewayClassName"
        listeners = spec.get("listeners")
        if not isinstance(listeners, list) or not listeners:
            return "spec.listeners"
        for i, listener in enumerate(listeners):
            for name in ("name", "port", "protocol"):
                if not isinstance(listener, dict) or not listener.get(name):
                    return f"spec.listeners[{i}].{name}"
    if kind == "ReferenceGrant":
        for side in ("from", "to"):
            if not isinstance(spec.get(side), list) or not spec[side]:
                return f"spec.{side}"
    return ""
