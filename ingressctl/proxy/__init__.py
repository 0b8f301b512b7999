"""The request path: match → middlewares → weighted round robin → pooled upstream connections."""

from ingressctl.proxy.accesslog import AccessLog
from ingressctl.proxy.handler import EntrypointRuntime, PreRoutingHook, Proxy, entrypoint_runtime
from ingressctl.proxy.observer import NULL_OBSERVER, NullObserver, ProxyObserver
from ingressctl.proxy.options import ProxyOptions
from ingressctl.proxy.plan import EntrypointInfo, TablePlan

__all__ = [
    "NULL_OBSERVER",
    "AccessLog",
    "EntrypointInfo",
    "EntrypointRuntime",
    "NullObserver",
    "PreRoutingHook",
    "Proxy",
    "ProxyObserver",
    "ProxyOptions",
    "TablePlan",
    "entrypoint_runtime",
]
