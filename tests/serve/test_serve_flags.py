"""`serve` has two parsers (argparse for the lean start, Typer for --help): they must take the same flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from ingressctl.cli import serve_cmd, serve_flags
from ingressctl.cli.app import app


def _typer_options() -> set[str]:
    command = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    names: set[str] = set()
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
    return names - {"--help", "-h"}


def _argparse_options() -> set[str]:
    names: set[str] = set()
    for action in serve_flags.argument_parser()._actions:
        names.update(action.option_strings)
    return names


def test_argparse_and_typer_define_the_same_options() -> None:
    typer_names, argparse_names = _typer_options(), _argparse_options()
    assert typer_names == argparse_names, (
        f"only Typer: {sorted(typer_names - argparse_names)}; "
        f"only argparse: {sorted(argparse_names - typer_names)}"
    )
    assert {"--kubernetes", "--namespace", "--publish-service", "--no-leader-election"} <= typer_names


def test_every_flag_lands_in_serve_options() -> None:
    """What argparse produces is exactly the ServeOptions fields (a flag cannot be parsed and then lost)."""
    parsed = vars(serve_flags.argument_parser().parse_args([]))
    assert set(parsed) == set(serve_cmd.ServeOptions.__dataclass_fields__)


def _serve(*args: str, home: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""}
    if home is not None:
        env["HOME"] = home
    return subprocess.run(
        [sys.executable, "-m", "ingressctl", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_cluster_flags_without_a_cluster_are_usage_errors(tmp_path: object) -> None:
    result = _serve("--manifests", ".", "--namespace", "shop", "--publish-address", "192.0.2.1")
    assert result.returncode == 2
    assert "--namespace, --publish-address only apply with --kubernetes" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_acme_storage_needs_the_cluster() -> None:
    result = _serve("--manifests", ".", "--acme-storage", "secret:ingressctl/acme")
    assert result.returncode == 2
    assert "is a Kubernetes Secret: add --kubernetes" in result.stderr


def test_help_documents_both_providers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingressctl", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0
    assert "--kubernetes" in result.stdout and "--publish-service" in result.stdout
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "merged into one table" in text


def test_unusable_cluster_configuration_exits_2_at_start(tmp_path: Path) -> None:
    for args, message in (
        (("--kubeconfig", "/nonexistent"), "kubeconfig '/nonexistent': no such file"),
        ((), "no Kubernetes API to talk to"),
    ):
        result = _serve(
            "--kubernetes",
            *args,
            "--entrypoint",
            "web=127.0.0.1:0",
            "--no-leader-election",
            home=str(tmp_path),
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
