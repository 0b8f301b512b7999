"""Who may reach the API: loopback by default, basic auth or an explicit opt-out otherwise."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from ingressctl.api import Metrics, build_api_app, check_api_exposure, start_api
from ingressctl.model import ConfigError
from ingressctl.model.config import ApiConfig, EntryPointAuth
from tests.api.conftest import APR1_HASH, BCRYPT_HASH, SHA_HASH, ClientFactory, FakeView

USERS = EntryPointAuth("ops", (("alice", APR1_HASH), ("bob", BCRYPT_HASH), ("carol", SHA_HASH)))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("address", ["127.0.0.1:8080", "127.0.0.2:1", "[::1]:8080", "localhost:9000"])
def test_loopback_needs_nothing(address: str) -> None:
    check_api_exposure(address, None, False)


@pytest.mark.parametrize(
    "address", [":8080", "0.0.0.0:8080", "[::]:8080", "10.1.2.3:8080", "api.internal:80"]
)
def test_reachable_address_without_auth_is_refused_with_the_fix(address: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_api_exposure(address, None, False)
    message = str(caught.value)
    assert address in message and "--api-insecure" in message and "127.0.0.1:8080" in message
    # An auth section without users protects nothing.
    with pytest.raises(ConfigError):
        check_api_exposure(address, EntryPointAuth("x", ()), False)


@pytest.mark.parametrize("address", [":8080", "0.0.0.0:8080"])
def test_reachable_address_with_auth_or_insecure_is_allowed(address: str) -> None:
    check_api_exposure(address, USERS, False)
    check_api_exposure(address, None, True)


@pytest.mark.parametrize("address", ["8080", "host:", "host:http", "1.2.3.4:70000"])
def test_malformed_address_is_a_config_error(address: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        check_api_exposure(address, None, False)


async def test_start_api_refuses_before_binding_and_serves_on_loopback(view: FakeView) -> None:
    with pytest.raises(ConfigError):
        await start_api(view, Metrics(view), ApiConfig(address="0.0.0.0:0"))
    runner = await start_api(view, Metrics(view), ApiConfig(address="127.0.0.1:0"))
    try:
        host, port = runner.addresses[0][:2]
        assert host == "127.0.0.1"
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/ping") as r,
        ):
            assert (r.status, await r.text()) == (200, "OK")
    finally:
        await runner.cleanup()


async def test_start_api_reports_a_busy_port_as_config_error(view: FakeView) -> None:
    first = await start_api(view, Metrics(view), ApiConfig(address="127.0.0.1:0"))
    try:
        port = first.addresses[0][1]
        with pytest.raises(ConfigError, match="cannot listen"):
            await start_api(view, Metrics(view), ApiConfig(address=f"127.0.0.1:{port}"))
    finally:
        await first.cleanup()


async def test_basic_auth_guards_everything_but_the_probes(
    aiohttp_client: ClientFactory, view: FakeView
) -> None:
    client: Any = await aiohttp_client(build_api_app(view, Metrics(view), auth=USERS, insecure=False))
    for path in ("/", "/dashboard/", "/api/rawdata", "/api/routers", "/metrics", "/static/app.js"):
        response = await client.get(path)
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"] == 'Basic realm="ops", charset="UTF-8"'
    assert (await client.get("/ping")).status == 200
    assert (await client.get("/ready")).status == 200
    for user in ("alice", "bob", "carol"):  # apr1, bcrypt, SHA1
        ok = await client.get("/api/overview", headers=basic(user, "s3cret"))
        assert ok.status == 200, user
        # twice: the second one is answered from the verification cache
        assert (await client.get("/metrics", headers=basic(user, "s3cret"))).status == 200
    assert (await client.get("/api/overview", headers=basic("alice", "wrong"))).status == 401
    assert (await client.get("/api/overview", headers=basic("mallory", "s3cret"))).status == 401
    assert (await client.get("/api/overview", headers={"Authorization": "Bearer abc"})).status == 401
    assert (await client.get("/api/overview", headers={"Authorization": "Basic !!!"})).status == 401
