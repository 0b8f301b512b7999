"""A route's constant request-header edits (request-headers without appended values) are applied
from lines serialised once per plan (exchange.ConstantEdits): the upstream head must be the very
bytes the per-request path builds from the same edits as a plain dict, whatever the request holds
(the edited headers themselves, hop-by-hop and forwarded ones, a Connection header naming an edited
header, an upstream Host)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from ingressctl.proxy.exchange import ConstantEdits
from ingressctl.proxy.forward_head import RequestHeads
from ingressctl.proxy.headers import TrustedNetworks


@dataclass
class _Entrypoint:
    scheme: str
    trusted: TrustedNetworks


EDITS: list[tuple[bytes, tuple[bytes, bytes] | None]] = [
    (b"x-env", (b"X-Env", b"bench")),
    (b"x-debug", None),
    (b"host", (b"Host", b"elsewhere")),  # never edited: the builder sets Host itself
    (b"x-forwarded-for", (b"X-Forwarded-For", b"1.2.3.4")),  # never edited either
    (b"te", (b"TE", b"trailers")),  # hop-by-hop: never sent
    (b"x-added", (b"X-Added", b"yes")),
]

REQUESTS = [
    {"Host": "a.test"},
    {"Host": "a.test", "X-Env": "client", "X-Debug": "1", "Accept": "*/*"},
    {"Host": "a.test", "X-Forwarded-For": "9.9.9.9", "TE": "trailers", "Expect": "100-continue"},
    {"Host": "a.test", "Connection": "keep-alive, X-Added", "X-Added": "client"},
    {"Host": "a.test", "Connection": "keep-alive", "X-Env": "client"},
]


@pytest.mark.parametrize("headers", REQUESTS)
@pytest.mark.parametrize("upstream_host", ["", "backend.internal"])
@pytest.mark.parametrize("trusted", [TrustedNetworks(()), TrustedNetworks(("127.0.0.0/8",))])
def test_constant_edits_build_the_same_head(
    headers: dict[str, str], upstream_host: str, trusted: TrustedNetworks
) -> None:
    request = make_mocked_request("GET", "/x?y=1", headers=CIMultiDict(headers))
    constant = ConstantEdits(EDITS)
    assert type(constant) is ConstantEdits
    heads = RequestHeads(_Entrypoint("http", trusted), "ingressctl")
    expected = heads.build(request, "GET", "/x?y=1", "a.test", False, dict(EDITS), upstream_host)
    got = heads.build(request, "GET", "/x?y=1", "a.test", False, constant, upstream_host)
    assert got == expected
    assert b"X-Env: bench\r\n" in got and b"X-Debug" not in got and b"TE:" not in got
