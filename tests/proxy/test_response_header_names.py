"""The response-headers filter remembers response header names that none of its edits touch, so a
head made only of those is not lower-cased again: a later head holding a name it replaces (in any
case) must still lose the backend's value, on the same filter, after many clear heads."""

from __future__ import annotations

from typing import cast

from ingressctl.model.rewrites import HeaderEdit
from ingressctl.proxy.exchange import Exchange
from ingressctl.proxy.middlewares.headers import ResponseHeaders
from ingressctl.routing.chain_rewrites import ResponseHeadersSpec


def _spec() -> ResponseHeadersSpec:
    edits = (HeaderEdit("X-Served-By", "ingressctl"), HeaderEdit("X-Powered-By", ""))
    return ResponseHeadersSpec(edits=edits, security=None, tls_headers=())


class _Exchange:
    head_tail: object = None


def test_a_replaced_name_is_replaced_after_clear_heads() -> None:
    middleware = ResponseHeaders(_spec())
    exchange = cast(Exchange, _Exchange())
    clear_head = [("Server", "nginx"), ("Content-Type", "text/plain")]
    for _ in range(3):
        headers = list(clear_head)
        middleware.on_response(exchange, 200, headers, True)
        assert headers == [*clear_head, ("X-Served-By", "ingressctl")]
    for name in ("X-Powered-By", "x-served-by", "X-SERVED-BY"):
        headers = [*clear_head, (name, "backend")]
        middleware.on_response(exchange, 200, headers, True)
        assert headers == [*clear_head, ("X-Served-By", "ingressctl")], name
        # and once more, now that every other name of that head is known to be clear
        headers = [(name, "backend"), *clear_head]
        middleware.on_response(exchange, 200, headers, True)
        assert headers == [*clear_head, ("X-Served-By", "ingressctl")], name
