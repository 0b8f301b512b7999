"""A protecting setting that cannot be honoured: every request is refused, never let through."""

from __future__ import annotations

import logging

from aiohttp.web_response import StreamResponse

from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain import FailClosedSpec

log = logging.getLogger("ingressctl.proxy")


class FailClosed:
    __slots__ = ("detail", "status", "text")

    name = FailClosedSpec.name

    def __init__(self, spec: FailClosedSpec) -> None:
        self.status = spec.status
        self.text = spec.text
        self.detail = spec.detail

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        log.warning("refused request for route %s: %s (failing closed)", exchange.route_id, self.detail)
        return error(self.status, self.text)
