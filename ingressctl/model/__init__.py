"""Plain typed data shared by every layer. Standard library only."""

from typing import TYPE_CHECKING

from ingressctl.model.diagnostics import Diagnostic, Severity
from ingressctl.model.errors import ConfigError, IngressctlError, InputError, UsageError
from ingressctl.model.location import Location
from ingressctl.model.objects import (
    Endpoint,
    EndpointPort,
    Endpoints,
    EndpointSlice,
    EndpointSubset,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressPath,
    IngressRule,
    IngressTLS,
    Namespace,
    ObjectMeta,
    ObjectRef,
    PathType,
    Secret,
    Service,
    ServicePort,
    Snapshot,
)
from ingressctl.model.regexpaths import RegexPath
from ingressctl.model.routes import (
    BackendProblem,
    BasicAuth,
    HostKind,
    Match,
    Redirect,
    Route,
    RouteBackend,
    RouteMiddlewares,
    TLSCertificate,
    TLSSource,
    Upstream,
)

if TYPE_CHECKING:
    from ingressctl.model.cors import CorsPolicy

# Re-exported names of annotation families a plain Ingress does not use: their module (and its
# dataclasses) loads on first use, not with every `validate` (start-up time, issue 18).
_LAZY = {"CorsPolicy": "ingressctl.model.cors"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BackendProblem",
    "BasicAuth",
    "ConfigError",
    "CorsPolicy",
    "Diagnostic",
    "Endpoint",
    "EndpointPort",
    "EndpointSlice",
    "EndpointSubset",
    "Endpoints",
    "HostKind",
    "Ingress",
    "IngressBackend",
    "IngressClass",
    "IngressPath",
    "IngressRule",
    "IngressTLS",
    "IngressctlError",
    "InputError",
    "Location",
    "Match",
    "Namespace",
    "ObjectMeta",
    "ObjectRef",
    "PathType",
    "Redirect",
    "RegexPath",
    "Route",
    "RouteBackend",
    "RouteMiddlewares",
    "Secret",
    "Service",
    "ServicePort",
    "Severity",
    "Snapshot",
    "TLSCertificate",
    "TLSSource",
    "Upstream",
    "UsageError",
]
