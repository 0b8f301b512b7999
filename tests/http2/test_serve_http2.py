"""`ingressctl serve` as a subprocess: HTTP/2 from the flags (,h2c; TLS by default; ,no-h2), and the
memory an idle HTTP/2 connection costs (resident memory over many idle connections)."""

from __future__ import annotations

import asyncio
import json
import resource
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.needs import tool
from tests.serve.conftest import ServeProcess, serve  # noqa: F401  (fixture)
from tests.support.manifests import app_manifest

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

IDLE_CONNECTIONS = 500
BUDGET_PER_CONNECTION = 64 * 1024


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    return ctx


async def idle_connection(port: int, ctx: ssl.SSLContext | None) -> asyncio.StreamWriter:
    """An HTTP/2 connection through the preface and the SETTINGS exchange, then left idle."""
    tls = ctx is not None
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="app.test" if tls else None
    )
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    acknowledged = False
    async with asyncio.timeout(30):
        while not acknowledged:
            data = await reader.read(65536)
            assert data, "the server closed the connection"
            events = conn.receive_data(data)
            acknowledged = any(isinstance(e, h2.events.SettingsAcknowledged) for e in events)
            writer.write(conn.data_to_send())
    return writer


@pytest.fixture
def served(tmp_path: Path, serve: Callable[..., ServeProcess]) -> ServeProcess:  # noqa: F811
    (tmp_path / "apps.yaml").write_text(app_manifest("app", "app.test", "/", 9))
    sp = serve(
        "--manifests",
        str(tmp_path / "apps.yaml"),
        "--entrypoint",
        "web=127.0.0.1:0,h2c",
        "--entrypoint",
        "websecure=127.0.0.1:0,tls",
        "--entrypoint",
        "old=127.0.0.1:0,tls,no-h2",
        "--api-address",
        "127.0.0.1:0",
    )
    sp.wait_ready()
    return sp


def curl_version(url: str, *args: str) -> str:
    proc = subprocess.run(
        [
            tool("curl", "curl"),
            "-sk",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.stdout


def test_flags_choose_the_protocols(served: ServeProcess) -> None:
    web = served.addresses["web"]
    assert curl_version(f"http://{web}/", "--http2-prior-knowledge", "-H", "Host: app.test") == "2"
    assert curl_version(f"https://{served.addresses['websecure']}/", "--http2") == "2"
    assert curl_version(f"https://{served.addresses['old']}/", "--http2") == "1.1"
    # The API tells the same.
    api = (
        next(line for line in served.lines if "API and dashboard on" in line)
        .split("on ", 1)[1]
        .split("/ ")[0]
    )
    out = subprocess.run(
        [tool("curl", "curl"), "-s", "--max-time", "20", f"{api}/api/entrypoints"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    protocols = {ep["name"]: ep["protocols"] for ep in json.loads(out)["entrypoints"]}
    assert protocols == {"web": ["http/1.1", "h2c"], "websecure": ["h2", "http/1.1"], "old": ["http/1.1"]}


@pytest.mark.parametrize("entrypoint", ["websecure", "web"], ids=["tls-h2", "h2c"])
async def test_an_idle_http2_connection_costs_under_64_kib(served: ServeProcess, entrypoint: str) -> None:
    """Resident memory of the real process over IDLE_CONNECTIONS idle HTTP/2 connections (TLS: most
    of it OpenSSL's; h2c: the proxy's own state, hyper-h2's included)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_CONNECTIONS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE_CONNECTIONS + 1000), hard))
    pid = served.proc.pid
    port = int(served.addresses[entrypoint].rpartition(":")[2])
    ctx = client_context() if entrypoint == "websecure" else None
    writers = [await idle_connection(port, ctx) for _ in range(20)]  # warm up: caches, arenas
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    try:
        for _ in range(IDLE_CONNECTIONS):
            writers.append(await idle_connection(port, ctx))
        await asyncio.sleep(0.5)
        per_connection = (rss_kib(pid) - before) * 1024 / IDLE_CONNECTIONS
    finally:
        for writer in writers:
            writer.close()
    print(f"{entrypoint}: {per_connection / 1024:.1f} KiB per idle HTTP/2 connection")
    assert per_connection < BUDGET_PER_CONNECTION, (
        f"{per_connection / 1024:.1f} KiB per idle {entrypoint} HTTP/2 connection"
    )


def test_metrics_count_requests_by_protocol(served: ServeProcess) -> None:
    """/metrics of the real process: ingressctl_requests_total carries the protocol each client used."""
    port = served.addresses["websecure"].rpartition(":")[2]
    resolve = ("--resolve", f"app.test:{port}:127.0.0.1")
    assert curl_version(f"https://app.test:{port}/", "--http2", *resolve) == "2"
    assert curl_version(f"https://app.test:{port}/", "--http1.1", *resolve) == "1.1"
    web = served.addresses["web"]
    for _ in range(2):
        assert curl_version(f"http://{web}/", "--http2-prior-knowledge", "-H", "Host: app.test") == "2"
    announced = next(line for line in served.lines if "API and dashboard on" in line)
    api = announced.split("on ", 1)[1].split("/ ")[0]
    text = subprocess.run(
        [tool("curl", "curl"), "-s", "--max-time", "20", f"{api}/metrics"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ingressctl_requests_total":
                key = (sample.labels["entrypoint"], sample.labels["protocol"])
                counts[key] = counts.get(key, 0) + sample.value
    assert counts.get(("websecure", "h2")) == 1, counts
    assert counts.get(("websecure", "http/1.1")) == 1, counts
    assert counts.get(("web", "h2c")) == 2, counts
