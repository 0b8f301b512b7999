"""One Pebble (+ fake DNS) per xdist worker, a loopback backend, `serve` processes stopped after each test.

Tests in one worker run one after another, so they can share Pebble's httpPort/tlsPort: each test's
serve process is stopped (and its ports closed) before the next test starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pebble import Pebble, challtestsrv, pebble, pebble_workdir  # noqa: F401  (session fixtures)

from .lab import Serve, echo_backend


@pytest.fixture(scope="session")
def backend_port() -> Iterator[int]:
    with echo_backend() as port:
        yield port


@dataclass
class Site:
    """The files of one serve instance: config, the watched manifests directory, acme.json."""

    root: Path
    pebble: Pebble

    @property
    def config(self) -> Path:
        return self.root / "traefik.toml"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def storage(self) -> Path:
        return self.root / "acme.json"

    @property
    def ledger(self) -> Path:
        return self.root / "acme.json.ratelimits"

    @property
    def root_ca(self) -> Path:
        return self.pebble.root_file()


@pytest.fixture
def site(tmp_path: Path, pebble: Pebble) -> Site:  # noqa: F811
    s = Site(tmp_path, pebble)
    s.manifests.mkdir()
    return s


@pytest.fixture
def start_serve() -> Iterator[Callable[[Site], Serve]]:
    started: list[Serve] = []

    def start(site: Site) -> Serve:
        sp = Serve.start(site.config, site.manifests)
        started.append(sp)
        return sp.wait_ready()

    yield start
    for sp in started:
        sp.stop()
