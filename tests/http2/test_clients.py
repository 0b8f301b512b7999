"""HTTP/2 to real clients (curl, nghttp, h2load): ALPN h2 by default on TLS, HTTP/1.1 fallback,
h2c with prior knowledge where asked for, requests routed and forwarded as over HTTP/1.1."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.http2.conftest import H2Env, header, start_env
from tests.needs import tool

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


async def curl(
    env: H2Env,
    entrypoint: str,
    *args: str,
    path: str = "/echo",
    host: str = "app.test",
    stdin: bytes | None = None,
) -> tuple[str, str]:
    """(HTTP version curl used, body)."""
    code, out, err = await run(
        tool("curl", "curl"),
        "-sSk",
        "--max-time",
        "30",
        "--resolve",
        env.resolve(entrypoint, host),
        "-w",
        "\n%{http_version} %{http_code}",
        *args,
        env.url(entrypoint, path, host),
        stdin=stdin,
    )
    assert code == 0, err
    body, _, tail = out.rpartition("\n")
    return tail, body


async def test_tls_entrypoints_offer_h2_first_and_keep_http11(env: H2Env) -> None:
    version, body = await curl(env, "websecure", "--http2", path="/echo?q=1")
    assert version == "2 200"
    echo = json.loads(body)
    assert echo["path"] == "/echo?q=1"
    assert echo["version"] == "1.1"  # forwarded to the HTTP/1.1 backend
    port = env.address("websecure")[1]
    # Host from :authority, X-Forwarded-* as for HTTP/1.1.
    assert header(echo, "Host") == [f"app.test:{port}"]
    assert header(echo, "X-Forwarded-Proto") == ["https"]
    assert header(echo, "X-Forwarded-Host") == [f"app.test:{port}"]
    assert header(echo, "X-Forwarded-Port") == [str(port)]
    assert header(echo, "X-Forwarded-For") == ["127.0.0.1"]
    version, _ = await curl(env, "websecure", "--http1.1")
    assert version == "1.1 200"
    # An entrypoint with [http2] enabled = false offers http/1.1 only.
    version, _ = await curl(env, "noh2", "--http2")
    assert version == "1.1 200"


async def test_h2c_with_prior_knowledge_only_where_enabled(env: H2Env) -> None:
    version, body = await curl(
        env, "web", "--http2-prior-knowledge", "-H", "Cookie: a=1", "-H", "Cookie: b=2"
    )
    assert version == "2 200"
    echo = json.loads(body)
    assert header(echo, "X-Forwarded-Proto") == ["http"]
    # Cookie fields split by HTTP/2 are joined again for the HTTP/1.1 backend (RFC 9113 8.2.3).
    assert header(echo, "Cookie") == ["a=1; b=2"]
    # A plain entrypoint without h2c answers the preface as HTTP/1.1 does: 400, never HTTP/2.
    code, out, _ = await run(
        tool("curl", "curl"), "-s", "--http2-prior-knowledge", "--max-time", "10", env.url("plain", "/echo")
    )
    assert code != 0 or "HTTP/2" not in out


async def test_upgrade_h2c_is_never_forwarded(env: H2Env) -> None:
    # curl --http2 on http:// sends "Upgrade: h2c" with HTTP2-Settings; the proxy answers in HTTP/1.1
    # and the backend sees neither header.
    for entrypoint in ("web", "plain"):
        version, body = await curl(env, entrypoint, "--http2")
        assert version == "1.1 200"
        echo = json.loads(body)
        assert header(echo, "Upgrade") == [] and header(echo, "HTTP2-Settings") == []


async def test_routing_421_and_middlewares_over_http2(env: H2Env) -> None:
    # A route with an allow-list that 127.0.0.1 is not on: the same middleware refuses over HTTP/2.
    version, _ = await curl(env, "websecure", "--http2", host="private.test")
    assert version == "2 403"
    version, _ = await curl(env, "web", "--http2-prior-knowledge", host="unknown.test")
    assert version == "2 404"
    # The connection was made for app.test (SNI and certificate): another host on it is refused.
    version, _ = await curl(
        env,
        "websecure",
        "--http2",
        "-H",
        "Host: other.test",
        "--connect-to",
        f"other.test:{env.address('websecure')[1]}:127.0.0.1:{env.address('websecure')[1]}",
    )
    assert version == "2 421"


async def test_large_bodies_both_ways(env: H2Env, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"u" * 9_000_000)
    version, body = await curl(env, "websecure", "--http2", "--data-binary", f"@{upload}")
    assert version == "2 200"
    assert json.loads(body)["body"] == 9_000_000
    # A body of unknown length (no content-length: HTTP/2 frames it) reaches the HTTP/1.1 backend chunked.
    version, body = await curl(env, "websecure", "--http2", "-T", "-", stdin=b"s" * 3_000_000)
    assert version == "2 200"
    echo = json.loads(body)
    assert echo["body"] == 3_000_000 and echo["method"] == "PUT"
    version, _ = await curl(
        env, "websecure", "--http2", "-o", str(tmp_path / "down.bin"), path="/big?n=30000000"
    )
    assert version == "2 200"
    assert (tmp_path / "down.bin").stat().st_size == 30_000_000


async def test_access_log_and_metrics_name_the_protocol(env: H2Env, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="ingressctl.access"):
        await curl(env, "websecure", "--http2", path="/echo?log=1")
        await curl(env, "web", "--http2-prior-knowledge", path="/echo?log=2")
        await curl(env, "web", "--http1.1", path="/echo?log=3")
    lines = [r.getMessage() for r in caplog.records if "log=" in r.getMessage()]
    assert any('"GET /echo?log=1 HTTP/2.0" 200' in line for line in lines), lines
    assert any('"GET /echo?log=2 HTTP/2.0" 200' in line for line in lines), lines
    assert any('"GET /echo?log=3 HTTP/1.1" 200' in line for line in lines), lines


async def test_nghttp_sees_the_advertised_limits(env: H2Env) -> None:
    code, out, err = await run(
        tool("nghttp", "nghttp2-client"),
        "-nv",
        "-H",
        ":authority: app.test",
        env.url("web", "/echo", "127.0.0.1"),
    )
    assert code == 0, err
    assert re.search(r"SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):250", out), out
    assert re.search(r"SETTINGS_INITIAL_WINDOW_SIZE\(0x04\):262144", out), out
    assert ":status: 200" in out


async def test_h2load_multiplexed_requests_all_succeed(env: H2Env) -> None:
    port = env.address("websecure")[1]
    code, out, err = await run(
        tool("h2load", "nghttp2-client"),
        "-n",
        "400",
        "-c",
        "4",
        "-m",
        "10",
        "-H",
        ":authority: app.test",
        f"https://127.0.0.1:{port}/echo",
    )
    assert code == 0, err
    assert "400 succeeded" in out, out
    assert re.search(r"status codes: 400 2xx", out), out


async def test_max_concurrent_streams_is_configurable(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    env = await start_env(tmp_path, backend, max_concurrent_streams=7)
    try:
        code, out, _ = await run(
            tool("nghttp", "nghttp2-client"),
            "-nv",
            "-H",
            ":authority: app.test",
            env.url("web", "/echo", "127.0.0.1"),
        )
        assert code == 0
        assert "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7" in out
    finally:
        await env.server.stop()
