"""Several `serve --kubernetes` replicas against one test API server."""

from __future__ import annotations

from tests.pebble import challtestsrv, pebble, pebble_workdir
from tests.serve.conftest import ServeProcess, backend, kube_api, lines_since, serve

__all__ = [
    "ServeProcess",
    "backend",
    "challtestsrv",
    "kube_api",
    "lines_since",
    "pebble",
    "pebble_workdir",
    "serve",
]
