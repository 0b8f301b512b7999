"""The runtime middlewares of ingressctl.gateway.chain's specs."""

from __future__ import annotations

from ingressctl.gateway.chain import BackendErrorSpec, GatewayRedirectSpec, GatewaySpec
from ingressctl.proxy.exchange import Middleware
from ingressctl.proxy.middlewares.backend_error import BackendError
from ingressctl.proxy.middlewares.gateway_redirect import GatewayRedirect
from ingressctl.proxy.middlewares.mirror import Mirror


def gateway_middleware(spec: GatewaySpec) -> Middleware:
    if isinstance(spec, GatewayRedirectSpec):
        return GatewayRedirect(spec)
    if isinstance(spec, BackendErrorSpec):
        return BackendError(spec)
    return Mirror(spec)
