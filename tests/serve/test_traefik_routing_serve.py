"""router.pathmatcher PathRegexp, service.passhostheader on the Service and the entrypoint's
compress stage, end to end: a real `ingressctl serve` with a real echo backend per Service;
`routes --explain` and the API read the same manifests and say what serve does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.serve.conftest import ServeProcess, run_cli
from tests.serve.test_rewrites import echo
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(90)

T = "traefik.ingress.kubernetes.io/"


def write_manifests(directory: Path, regex_port: int, plain_port: int) -> Path:
    """rx.test: a PathRegexp path to Service `regex` (passhostheader false on the Service) beside a
    Prefix path /api of another Ingress to Service `plain`."""
    directory.mkdir()
    passes = f'    {T}service.passhostheader: "false"\n'
    pathmatcher = f"    {T}router.pathmatcher: PathRegexp\n"
    regex = app_manifest(
        "regex", "rx.test", "/api/v[0-9]+/users$", regex_port, pathmatcher, service_annotations=passes
    )
    regex = regex.replace("pathType: Prefix", "pathType: ImplementationSpecific")
    path = directory / "apps.yaml"
    path.write_text("---\n".join([regex, app_manifest("plain", "rx.test", "/api", plain_port)]))
    return path


def write_config(directory: Path) -> Path:
    config = directory / "traefik.toml"
    config.write_text(
        'defaultEntryPoints = ["web"]\n[entryPoints.web]\naddress = "127.0.0.1:0"\ncompress = true\n'
    )
    return config


def test_routes_explain_shows_the_regex_winner_and_the_compress_stage(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    path = write_manifests(tmp_path / "manifests", 8080, 8081)
    config = write_config(tmp_path)
    validate = run_cli(["validate", str(path)], cli_env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    args = ["routes", str(path), "--config", str(config), "--explain"]
    text = run_cli([*args, "http://rx.test/api/v2/users"], cli_env).stdout
    assert "PathRegexp /api/v[0-9]+/users$ matches the path" in text
    assert "1. compress: responses on entrypoint web compressed with brotli or gzip" in text
    assert "2. request-headers:" in text and "Host: the backend's address" in text  # passhostheader
    other = json.loads(run_cli([*args, "rx.test/api/v2/users/7", "--format", "json"], cli_env).stdout)
    assert other["route"]["backend"]["service"] == "plain"
    assert [m["name"] for m in other["entrypoints"][0]["chain"]] == ["compress"]


async def test_serve_routes_by_regex_and_the_service_chooses_the_host(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    async with echo() as regex_port, echo() as plain_port:
        path = write_manifests(tmp_path / "manifests", regex_port, plain_port)
        config = write_config(tmp_path)
        sp = await asyncio.to_thread(
            lambda: serve(
                "--config", str(config), "--manifests", str(path.parent), "--api-address", "127.0.0.1:0"
            )
        )
        await asyncio.to_thread(sp.wait_ready)
        api = (await asyncio.to_thread(sp.wait_for, r"API and dashboard on (\S+)/")).group(1)
        async with aiohttp.ClientSession() as session:

            async def get(target: str) -> tuple[int, Any]:
                async with session.get(sp.url(target), headers={"Host": "rx.test"}) as resp:
                    return resp.status, await resp.json() if resp.status == 200 else None

            status, body = await get("/api/v12/users")
            assert status == 200
            # The regex route's Service says passhostheader false: the backend sees its own address.
            assert body["host"] == f"127.0.0.1:{regex_port}"
            status, body = await get("/api/v12/users/7")  # `$` anchors: the Prefix route
            assert (status, body["host"]) == (200, "rx.test")
            status, body = await get("/api/V12/users")  # case-sensitive
            assert (status, body["host"]) == (200, "rx.test")
            async with session.get(f"{api}/api/entrypoints") as resp:
                eps = await resp.json()
            web = next(
                e for e in (eps if isinstance(eps, list) else eps["entrypoints"]) if e["name"] == "web"
            )
            assert [m["name"] for m in web["chain"]] == ["compress"]
        assert sp.proc.poll() is None
        assert "Traceback" not in sp.text, sp.text
