"""gRPC through the proxy, real grpcio client and server: the client speaks HTTP/2 to ingressctl
(h2c, or TLS with ALPN h2), ingressctl speaks h2c to the backend (the Service port's appProtocol).
Unary and every streaming kind, metadata and trailers unchanged, status codes, deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.http2.conftest import Backend, H2Env, start_env
from tests.serve.test_backend_protocols import app

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
    metadata = dict(context.invocation_metadata())
    context.set_trailing_metadata((("x-trailer", "t1"), ("x-blob-bin", b"\x00\x01\xff")))
    return b"echo:" + request + b" from " + str(metadata.get("x-client", "")).encode()


def server_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    for n in range(5):
        yield request + b" #" + str(n).encode()


def client_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
    return b"+".join(requests)


def bidi(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
    for request in requests:
        yield b"re:" + request


def fail(request: bytes, context: grpc.ServicerContext) -> bytes:
    context.set_trailing_metadata((("x-reason", "missing"),))
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing: ünïcode")


def slow(request: bytes, context: grpc.ServicerContext) -> bytes:
    deadline = time.monotonic() + 30
    while context.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    return b"late"


class Echo(grpc.GenericRpcHandler):
    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        return {
            "/demo.Echo/Unary": grpc.unary_unary_rpc_method_handler(unary),
            "/demo.Echo/ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
            "/demo.Echo/ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
            "/demo.Echo/Bidi": grpc.stream_stream_rpc_method_handler(bidi),
            "/demo.Echo/Fail": grpc.unary_unary_rpc_method_handler(fail),
            "/demo.Echo/Slow": grpc.unary_unary_rpc_method_handler(slow),
        }.get(details.method)  # type: ignore[attr-defined]


@pytest.fixture
def grpc_backend() -> Iterator[int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((Echo(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(grace=None)


@pytest.fixture
async def grpc_env(tmp_path: Path, backend: Backend, grpc_backend: int) -> AsyncIterator[H2Env]:
    env = await start_env(
        tmp_path, backend, extra=app("grpc", "grpc.test", grpc_backend, app_protocol="kubernetes.io/h2c")
    )
    yield env
    await env.server.stop()


def channel(env: H2Env, tls: bool) -> grpc.Channel:
    if tls:
        credentials = grpc.ssl_channel_credentials(root_certificates=env.cert_pem)
        host, port = env.address("websecure")
        return grpc.secure_channel(
            f"{host}:{port}", credentials, options=[("grpc.ssl_target_name_override", "grpc.test")]
        )
    host, port = env.address("web")
    return grpc.insecure_channel(f"{host}:{port}", options=[("grpc.default_authority", "grpc.test")])


def every_kind(env: H2Env, tls: bool) -> dict[str, Any]:
    with channel(env, tls) as ch:
        reply, call = ch.unary_unary("/demo.Echo/Unary").with_call(
            b"hi", metadata=(("x-client", "c1"),), timeout=30
        )
        streamed = list(ch.unary_stream("/demo.Echo/ServerStream")(b"s", timeout=30))
        joined = ch.stream_unary("/demo.Echo/ClientStream")(iter([b"a", b"b", b"c"]), timeout=30)
        echoed = list(ch.stream_stream("/demo.Echo/Bidi")(iter([b"x", b"y"]), timeout=30))
        try:
            ch.unary_unary("/demo.Echo/Fail")(b"", timeout=30)
        except grpc.RpcError as exc:
            failure: Any = exc
        return {
            "reply": reply,
            "trailing": dict(call.trailing_metadata()),
            "streamed": streamed,
            "joined": joined,
            "echoed": echoed,
            "failure": (failure.code(), failure.details(), dict(failure.trailing_metadata())),
        }


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "tls-h2"])
async def test_every_kind_of_call_with_metadata_and_status(grpc_env: H2Env, tls: bool) -> None:
    got = await asyncio.to_thread(every_kind, grpc_env, tls)
    assert got["reply"] == b"echo:hi from c1"  # request metadata reached the backend
    assert got["trailing"]["x-trailer"] == "t1"
    assert got["trailing"]["x-blob-bin"] == b"\x00\x01\xff"
    assert got["streamed"] == [b"s #0", b"s #1", b"s #2", b"s #3", b"s #4"]
    assert got["joined"] == b"a+b+c"
    assert got["echoed"] == [b"re:x", b"re:y"]
    code, details, trailing = got["failure"]
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "no such thing: ünïcode")
    assert trailing["x-reason"] == "missing"


def deadline_call(env: H2Env) -> grpc.StatusCode:
    with channel(env, tls=False) as ch:
        try:
            ch.unary_unary("/demo.Echo/Slow")(b"", timeout=1.0)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    raise AssertionError("the slow call succeeded")


async def test_deadlines_end_the_call(grpc_env: H2Env) -> None:
    assert await asyncio.to_thread(deadline_call, grpc_env) == grpc.StatusCode.DEADLINE_EXCEEDED
