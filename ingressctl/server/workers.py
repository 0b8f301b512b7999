"""`--workers N`: N processes sharing each entrypoint's port (SO_REUSEPORT), supervised by the parent.

The parent binds every entrypoint first (bound, never listening: it reserves the port and turns
"address in use" into one clear error before any worker starts), then forks. Each worker binds
its own socket on the same port with SO_REUSEPORT, so the kernel spreads connections across
workers, and runs its own event loop, providers and watch loop. The parent forwards SIGTERM,
SIGINT and SIGHUP, restarts a worker that dies unexpectedly, and exits 0 after a clean drain
(each worker drains for one grace period; one stuck well past it is killed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

from ingressctl.model import IngressctlError
from ingressctl.model.config import StaticConfig
from ingressctl.server.listeners import bind_socket

log = logging.getLogger("ingressctl.server")

WorkerMain = Callable[[int, dict[str, socket.socket]], None]

# A worker stops within its grace period (Server.stop drains with one deadline); past this much
# more, it is stuck (a blocked event loop), and the parent kills it rather than hang forever.
STOP_MARGIN_SECONDS = 5.0


def _spawn(
    index: int,
    static: StaticConfig,
    ports: dict[str, int],
    reserved: list[socket.socket],
    worker_main: WorkerMain,
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for sock in reserved:
            sock.close()
        sockets = {
            ep.name: bind_socket(
                ep.name, ep.address, reuse_port=True, port=ports[ep.name], tls=ep.tls is not None
            )
            for ep in static.entrypoints
        }
        worker_main(index, sockets)
    except IngressctlError as exc:
        print(f"error: worker {index}: {exc}", file=sys.stderr, flush=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def supervise(static: StaticConfig, count: int, worker_main: WorkerMain) -> int:
    """Run `count` workers until SIGTERM/SIGINT; returns the exit code for the whole server."""
    reserved = [
        bind_socket(ep.name, ep.address, reuse_port=True, tls=ep.tls is not None) for ep in static.entrypoints
    ]
    ports = {ep.name: sock.getsockname()[1] for ep, sock in zip(static.entrypoints, reserved, strict=True)}
    stopping = False
    kill_at: float | None = None
    pending_signals: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        pending_signals.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    workers: dict[int, int] = {}  # pid -> index
    for index in range(count):
        workers[_spawn(index, static, ports, reserved, worker_main)] = index
    log.info("started %d workers (pids %s)", count, ", ".join(map(str, workers)))
    exit_code = 0
    restarts: dict[int, float] = {}
    while workers:
        while pending_signals:
            signum = pending_signals.pop(0)
            if signum in (signal.SIGTERM, signal.SIGINT):
                stopping = True
                if kill_at is None:
                    kill_at = time.monotonic() + static.grace_period_seconds + STOP_MARGIN_SECONDS
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if kill_at is not None and time.monotonic() > kill_at:
                _kill_stuck(workers)
                kill_at = None
            time.sleep(0.05)
            continue
        index = workers.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if stopping:
            if code not in (0, -signal.SIGTERM):
                exit_code = exit_code or (code if code > 0 else 1)
            continue
        if code == 2:
            # A configuration problem: every worker would hit it; stop them all.
            log.error("worker %d exited with a configuration error; stopping", index)
            exit_code = 2
            stopping = True
            kill_at = time.monotonic() + static.grace_period_seconds + STOP_MARGIN_SECONDS
            for other in workers:
                os.kill(other, signal.SIGTERM)
            continue
        last = restarts.get(index, 0.0)
        if time.monotonic() - last < 1.0:
            time.sleep(1.0)
        restarts[index] = time.monotonic()
        log.warning("worker %d (pid %d) exited with %s; restarting it", index, pid, code)
        workers[_spawn(index, static, ports, reserved, worker_main)] = index
    for sock in reserved:
        sock.close()
    return exit_code


def _kill_stuck(workers: dict[int, int]) -> None:
    log.error(
        "workers %s did not stop within the grace period; killing them",
        ", ".join(f"{index} (pid {pid})" for pid, index in workers.items()),
    )
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
