"""The real `ingressctl serve` process: start, serve, reload on SIGHUP, drain on SIGTERM, clear errors."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.manifests import write_apps

from .conftest import ServeProcess, run_cli

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def backend_port() -> AsyncIterator[int]:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/slow":
            await asyncio.sleep(1.5)
        return web.Response(text=f"hello {request.path}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await runner.cleanup()


async def test_serve_proxies_drains_on_sigterm_and_exits_0(
    tmp_path: Path, backend_port: int, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "m"
    manifests.mkdir()
    write_apps(manifests / "app.yaml", [("app", "app.test", "/", backend_port)])
    sp = serve("--manifests", str(manifests), "--entrypoint", "web=127.0.0.1:0", "--access-log")
    await asyncio.to_thread(sp.wait_ready)
    async with aiohttp.ClientSession() as s:
        async with s.get(sp.url("/x"), headers={"Host": "app.test"}) as r:
            assert r.status == 200 and await r.text() == "hello /x"
        in_flight = asyncio.ensure_future(s.get(sp.url("/slow"), headers={"Host": "app.test"}))
        await asyncio.sleep(0.4)
        sp.signal(signal.SIGTERM)
        r = await in_flight
        assert r.status == 200 and await r.text() == "hello /slow"
    code = await asyncio.to_thread(sp.proc.wait, 15)
    assert code == 0, sp.text
    assert "shutting down" in sp.text


async def test_sighup_rereads_manifests(
    tmp_path: Path, backend_port: int, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("app", "app.test", "/", backend_port)])
    sp = serve("--manifests", str(manifests), "--entrypoint", "web=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)
    mark = len(sp.lines)
    sp.signal(signal.SIGHUP)
    await asyncio.to_thread(sp.wait_for, r"reload requested", 10, mark)
    await asyncio.to_thread(sp.wait_for, r"configuration applied: routes 1 .*no change", 10, mark)
    assert sp.proc.poll() is None


def test_no_manifests_is_a_config_error(cli_env: dict[str, str]) -> None:
    result = run_cli(["serve", "--entrypoint", "web=127.0.0.1:0"], cli_env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--manifests" in lines[0], result.stderr


def test_bad_config_file_exits_2_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = tmp_path / "traefik.toml"
    config.write_text('[entryPoints.web]\naddres = ":8000"\n')
    result = run_cli(["serve", "--config", str(config), "--manifests", str(tmp_path)], cli_env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "traefik.toml" in result.stderr


def test_address_in_use_exits_2_with_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "empty.yaml").write_text("")
        result = run_cli(
            ["serve", "--manifests", str(tmp_path), "--entrypoint", f"web=127.0.0.1:{port}"], cli_env
        )
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.startswith("error")]
    assert len(lines) == 1
    assert f"127.0.0.1:{port}" in lines[0] and "'web'" in lines[0] and "already in use" in lines[0]
    assert "Traceback" not in result.stderr


async def test_workers_share_the_port(
    tmp_path: Path, backend_port: int, serve: Callable[..., ServeProcess]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("app", "app.test", "/", backend_port)])
    sp = serve("--manifests", str(manifests), "--entrypoint", f"web=127.0.0.1:{port}", "--workers", "2")
    await asyncio.to_thread(sp.wait_for, r"started 2 workers")
    m = await asyncio.to_thread(sp.wait_for, r"started 2 workers \(pids (\d+), (\d+)\)")
    pids = {int(m.group(1)), int(m.group(2))}
    # Both workers apply the configuration and listen on the same port.
    first = await asyncio.to_thread(sp.wait_for, r"configuration applied")
    start = next(i for i, line in enumerate(sp.lines) if first.group(0) in line) + 1
    await asyncio.to_thread(sp.wait_for, r"configuration applied", 15, start)
    async with aiohttp.ClientSession() as s:
        for _ in range(20):
            async with (
                aiohttp.ClientSession() as fresh,
                fresh.get(f"http://127.0.0.1:{port}/w", headers={"Host": "app.test"}) as r,
            ):
                assert r.status == 200
        del s
    # Each worker owns a listening socket on the port.
    owners = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink()
            except OSError:
                continue
            if str(target).startswith("socket:"):
                owners.add(pid)
    assert owners == pids
    code = await asyncio.to_thread(sp.stop)
    assert code == 0, sp.text


async def test_lean_entry_serves_without_typer(
    tmp_path: Path, backend_port: int, cli_env: dict[str, str]
) -> None:
    """serve_cmd.main_fast: the same server, started without the other command groups."""
    import subprocess
    import sys

    from .conftest import ServeProcess

    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("app", "app.test", "/", backend_port)])
    code = "import sys\nfrom ingressctl.cli.serve_cmd import main_fast\nsys.exit(main_fast(sys.argv[1:]))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--manifests", str(manifests), "--entrypoint", "web=127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    try:
        await asyncio.to_thread(sp.wait_ready)
        async with aiohttp.ClientSession() as s, s.get(sp.url("/lean"), headers={"Host": "app.test"}) as r:
            assert r.status == 200 and await r.text() == "hello /lean"
        modules = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "pydantic_core" not in modules
    finally:
        assert await asyncio.to_thread(sp.stop) == 0


def test_lean_entry_usage_error_exits_2(cli_env: dict[str, str]) -> None:
    import subprocess
    import sys

    code = "import sys\nfrom ingressctl.cli.serve_cmd import main_fast\nsys.exit(main_fast(sys.argv[1:]))\n"
    result = subprocess.run(
        [sys.executable, "-c", code, "--entrypoint", "web"],
        capture_output=True,
        text=True,
        env=cli_env,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: --entrypoint 'web': expected NAME=ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDR;CIDR]"
        "[,h2c][,no-h2], "
        "e.g. --entrypoint web=:8000"
    )
