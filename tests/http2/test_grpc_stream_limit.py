"""A grpcio server that takes one stream per connection at a time (grpc.max_concurrent_streams, its
SETTINGS_MAX_CONCURRENT_STREAMS): concurrent calls through ingressctl all succeed, carried over more
pooled connections instead of streams the server would refuse."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from tests.http2.conftest import Backend, H2Env, start_env
from tests.serve.test_backend_protocols import app

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CALLS = 6


class Peers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.running = 0
        self.most = 0

    def unary(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.seen.add(context.peer())
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.3)
        with self.lock:
            self.running -= 1
        return b"ok:" + request


@pytest.fixture
def limited_backend() -> Iterator[tuple[int, Peers]]:
    peers = Peers()
    handler = grpc.method_handlers_generic_handler(
        "demo.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(peers.unary)}
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=CALLS + 2), options=[("grpc.max_concurrent_streams", 1)]
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port, peers
    server.stop(grace=None)


@pytest.fixture
async def limited_env(
    tmp_path: Path, backend: Backend, limited_backend: tuple[int, Peers]
) -> AsyncIterator[H2Env]:
    port, _ = limited_backend
    extra = app("grpc", "grpc.test", port, app_protocol="kubernetes.io/h2c")
    env = await start_env(tmp_path, backend, extra=extra)
    yield env
    await env.server.stop()


def concurrent_calls(env: H2Env) -> list[bytes]:
    host, port = env.address("web")
    with grpc.insecure_channel(f"{host}:{port}", options=[("grpc.default_authority", "grpc.test")]) as ch:
        call = ch.unary_unary("/demo.Echo/Unary")
        with futures.ThreadPoolExecutor(max_workers=CALLS) as pool:
            return list(pool.map(lambda n: call(str(n).encode(), timeout=60), range(CALLS)))


async def test_calls_over_the_backends_stream_limit_all_succeed(
    limited_env: H2Env, limited_backend: tuple[int, Peers]
) -> None:
    _, peers = limited_backend
    replies = await asyncio.to_thread(concurrent_calls, limited_env)
    assert replies == [f"ok:{n}".encode() for n in range(CALLS)]
    # More than one upstream connection carried them (one stream each at a time), and they ran at once.
    assert len(peers.seen) > 1 and peers.most > 1, (peers.seen, peers.most)
