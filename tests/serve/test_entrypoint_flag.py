"""`serve` with a configuration file: what --entrypoint does to the file's entrypoints, regex redirects
refused at start, and the help saying both (and what SIGHUP re-reads)."""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.support.manifests import write_apps

from .conftest import ServeProcess, run_cli

pytestmark = pytest.mark.timeout(60)


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a start refused with exit 2 (and nothing served)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_traefik_v1_regex_redirect_is_refused_at_start(tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = _write(
        tmp_path / "traefik.toml",
        """
        [entryPoints]
          [entryPoints.http]
          address = "127.0.0.1:0"
            [entryPoints.http.redirect]
            regex = "^http://(.*)"
            replacement = "https://$1"
          [entryPoints.https]
          address = "127.0.0.1:0"
            [entryPoints.https.tls]
        """,
    )
    result = run_cli(["serve", "--config", str(config), "--manifests", str(tmp_path)], cli_env)
    assert _refused(result) == (
        f"error: {config}:5: entryPoints.http.redirect.regex/replacement are not supported (ingressctl "
        'redirects to entrypoints only): for http→https use entryPoint = "https" in '
        "[entryPoints.http.redirect]"
    )


def test_entrypoint_flag_without_tls_refuses_to_make_a_tls_entrypoint_plain(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    config = _write(
        tmp_path / "traefik.toml",
        """
        [entryPoints.http]
        address = "127.0.0.1:0"
        [entryPoints.https]
        address = "127.0.0.1:0"
          [entryPoints.https.tls]
        """,
    )
    result = run_cli(
        ["serve", "--config", str(config), "--manifests", str(tmp_path), "--entrypoint", "https=127.0.0.1:0"],
        cli_env,
    )
    assert _refused(result) == (
        f"error: --entrypoint https=127.0.0.1:0: entrypoint https is a TLS entrypoint in {config}:5; "
        "add ,tls to keep it one (--entrypoint https=127.0.0.1:0,tls)"
    )


async def test_entrypoint_flag_moves_a_plain_entrypoint_and_its_redirect_stays(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    manifests = tmp_path / "apps.yaml"
    write_apps(manifests, [("app", "app.test", "/", 9)])
    config = _write(
        tmp_path / "traefik.toml",
        """
        [entryPoints.http]
        address = ":80"
          [entryPoints.http.redirect]
          entryPoint = "https"
          regex = "^http://(.*)"
          replacement = "https://$1"
        [entryPoints.https]
        address = "127.0.0.1:0"
          [entryPoints.https.tls]
        """,
    )
    sp = serve("--config", str(config), "--manifests", str(manifests), "--entrypoint", "http=127.0.0.1:0")
    await asyncio.to_thread(sp.wait_ready)
    assert sp.addresses["http"].startswith("127.0.0.1:")  # the flag's address, not the file's :80
    # regex/replacement next to entryPoint change nothing (as in Traefik v1): a warning with the line.
    assert (
        f"{config}:5: entryPoints.http.redirect.regex is not supported: the redirect goes to entryPoint, "
        "as in Traefik v1 (ignored)"
    ) in sp.text
    async with aiohttp.ClientSession() as session:
        url = sp.url("/x", entrypoint="http")
        async with session.get(url, headers={"Host": "app.test"}, allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"].startswith("https://app.test")


def test_help_says_what_entrypoint_and_sighup_do(cli_env: dict[str, str]) -> None:
    result = run_cli(["serve", "--help"], cli_env)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.replace("│", " ").split())
    assert (
        "what the flag says wins (the address always; tls, the redirect and the PROXY protocol's trusted "
        "addresses when given), the rest of the file's entrypoint (its certificates, auth, forwardedHeaders, "
        "and redirect or proxyProtocol when the flag names none) stays."
    ) in text
    assert (
        "SIGHUP re-reads the manifests and recompiles the routes (the cluster is watched, SIGHUP does not "
        "re-list it); the config file and the files it names (certificates, usersFile) are read at start: "
        "restart to apply changes to them."
    ) in text
    assert "Without [entryPoints] in the file" in text  # rich markup must not eat the brackets
