"""A gRPC client (grpcio) gets gRPC answers when the proxy itself fails its request: HTTP 200 with
grpc-status in a trailers-only response, never an HTTP error page it cannot read."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tests.http2.conftest import H2Env

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def call(
    address: tuple[str, int], authority: str, method: str = "/demo.Echo/Say", timeout: float = 20
) -> grpc.RpcError:
    target = f"{address[0]}:{address[1]}"
    with grpc.insecure_channel(target, options=[("grpc.default_authority", authority)]) as channel:
        stub = channel.unary_unary(method)
        try:
            stub(b"hello", timeout=timeout)
        except grpc.RpcError as exc:
            return exc
    raise AssertionError("the call succeeded")


@pytest.mark.parametrize(
    ("authority", "code", "message"),
    [
        ("empty.test", grpc.StatusCode.UNAVAILABLE, "Service Unavailable"),  # no endpoint: 503
        ("down.test", grpc.StatusCode.UNAVAILABLE, "Bad Gateway"),  # nothing listens: 502
        ("unknown.test", grpc.StatusCode.UNIMPLEMENTED, "404 page not found"),  # no route: 404
        ("private.test", grpc.StatusCode.PERMISSION_DENIED, "Forbidden"),  # allow-list: 403
    ],
)
async def test_proxy_failures_are_grpc_statuses(
    env: H2Env, authority: str, code: grpc.StatusCode, message: str
) -> None:
    error = await asyncio.to_thread(call, env.address("web"), authority)
    assert error.code() == code, error  # type: ignore[attr-defined]
    assert error.details() == message  # type: ignore[attr-defined]


async def test_grpc_timeout_is_respected(env: H2Env) -> None:
    # The backend answers after 30 s; the client's deadline (grpc-timeout) is 1 s: the proxy stops
    # waiting then and says DEADLINE_EXCEEDED itself (and cancels the upstream request).
    error = await asyncio.to_thread(call, env.address("web"), "app.test", "/sleep?s=30", 1.0)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
