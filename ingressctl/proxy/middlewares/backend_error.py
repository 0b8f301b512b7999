"""The 500 the Gateway API requires for requests whose backendRef is invalid (a missing Service, a
kind that is not a Service, a reference no ReferenceGrant allows): for the share of requests the
invalid references' weight stands for, or for all of them."""

from __future__ import annotations

import logging
import random

from aiohttp.web_response import StreamResponse

from ingressctl.gateway.chain import BackendErrorSpec
from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange

log = logging.getLogger("ingressctl.proxy")


class BackendError:
    __slots__ = ("detail", "fraction")

    name = BackendErrorSpec.name

    def __init__(self, spec: BackendErrorSpec) -> None:
        self.fraction = spec.fraction
        self.detail = spec.detail

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        # Not a secret: a share of traffic, like the balancer's choice.
        if self.fraction < 1.0 and random.random() >= self.fraction:
            return None
        log.warning(
            "500 for route %s: %s", exchange.route_id, self.detail, extra={"router": exchange.route_id}
        )
        return error(500, "Internal Server Error")
