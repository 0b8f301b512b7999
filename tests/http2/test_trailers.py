"""Response trailers reach HTTP/2 clients unchanged (the seam an upstream HTTP/2 forwarder uses:
ingressctl.proxy.trailers), checked with a real gRPC client reading grpc-status and metadata."""

from __future__ import annotations

import asyncio
import struct

import grpc
import pytest
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.proxy.bare import BareStream
from ingressctl.proxy.trailers import trailer_writer
from tests.http2.conftest import H2Env

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def grpc_like(request: BaseRequest, entrypoint: str) -> StreamResponse | None:
    """A pre-routing hook answering /demo.Echo/Say as a gRPC server would: one message, then
    grpc-status and custom metadata in trailers."""
    if request.path != "/demo.Echo/Say":
        return None
    body = await request.read()
    message = body[5:]  # gRPC framing: compressed flag, 4-byte length, message
    response = BareStream(status=200, headers={"content-type": "application/grpc"})
    await response.prepare(request)
    reply = b"echo: " + message
    await response.write(struct.pack(">BI", 0, len(reply)) + reply)
    sink = trailer_writer(request)
    assert sink is not None, "HTTP/2 responses can carry trailers"
    await sink.write_trailers([("grpc-status", "0"), ("grpc-message", ""), ("x-custom-bin", "AAEC")])
    await response.write_eof()  # harmless after the trailers
    return response


def call(address: tuple[str, int]) -> tuple[bytes, tuple[tuple[str, object], ...]]:
    with grpc.insecure_channel(
        f"{address[0]}:{address[1]}", options=[("grpc.default_authority", "app.test")]
    ) as ch:
        stub = ch.unary_unary("/demo.Echo/Say")
        reply, call = stub.with_call(b"hi", timeout=20)
        return reply, tuple(call.trailing_metadata())


async def test_trailers_reach_a_grpc_client_unchanged(env: H2Env) -> None:
    env.server.proxy.hooks.append(grpc_like)
    reply, trailing = await asyncio.to_thread(call, env.address("web"))
    assert reply == b"echo: hi"
    assert ("x-custom-bin", b"\x00\x01\x02") in trailing
