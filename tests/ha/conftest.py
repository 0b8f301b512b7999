"""Several `serve --kubernetes` replicas against one test API server."""

from __future__ import annotations

from tests.serve.conftest import ServeProcess, kube_api, lines_since, serve

__all__ = ["ServeProcess", "kube_api", "lines_since", "serve"]
