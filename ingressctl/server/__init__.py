"""The runtime: watch loop, entrypoints, API wiring, workers, graceful shutdown."""

from ingressctl.server.run import Server, ServerParts, install_uvloop, run_server
from ingressctl.server.state import RuntimeState
from ingressctl.server.watcher import Watcher

__all__ = ["RuntimeState", "Server", "ServerParts", "Watcher", "install_uvloop", "run_server"]
