"""Fixtures for configuration tests: write a traefik.toml (and the files it names) into tmp_path."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.config import ConfigOverrides, StaticConfigError, load_static_config
from ingressctl.model.config import StaticConfig

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "traefik.toml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(write_config: WriteConfig) -> Callable[..., StaticConfig]:
    def run(text: str, overrides: ConfigOverrides | None = None) -> StaticConfig:
        return load_static_config(str(write_config(text)), overrides or ConfigOverrides())

    return run


@pytest.fixture
def problems(write_config: WriteConfig) -> Callable[..., list[str]]:
    """The error lines for a configuration that must be refused, with the tmp directory stripped."""

    def run(text: str, overrides: ConfigOverrides | None = None) -> list[str]:
        path = write_config(text)
        with pytest.raises(StaticConfigError) as caught:
            load_static_config(str(path), overrides or ConfigOverrides())
        assert caught.value.exit_code == 2
        return [line.replace(str(path), "traefik.toml") for line in caught.value.problems]

    return run


@pytest.fixture
def apr1_hash() -> Callable[[str], str]:
    def make(password: str) -> str:
        out = subprocess.run(
            ["openssl", "passwd", "-apr1", "--", password],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip()

    return make
