"""`make run`: `ingressctl serve ARGS` with a demo backend behind every route of the examples.

    python examples/demo/run.py --config examples/traefik.toml --manifests examples/v1

The arguments are `ingressctl serve`'s, passed on unchanged. Before starting it, this compiles the
same configuration and manifests the way `serve` will, and starts one whoami process
(examples/demo/whoami.py) listening on every loopback endpoint address the routes forward to,
each answering under its Service's name. Addresses that ingressctl itself listens on (the
example's h5ai route points at the dashboard) and non-loopback ones are left alone.

Ctrl-C or SIGTERM stops `serve` (it drains, as always) and then the backends; SIGHUP is passed
on to `serve`. The children run in a process group of their own, so each signal reaches them once,
from here (a terminal's Ctrl-C would otherwise reach `serve` twice, and a second SIGINT while it
drains aborts the drain). They are also told to stop if this process dies without cleaning up
(Linux PR_SET_PDEATHSIG), so no orphan keeps the ports.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import ipaddress
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

WHOAMI = Path(__file__).with_name("whoami.py")
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def _say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def _port_of(address: str) -> int | None:
    port = address.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def demo_backends(serve_args: Sequence[str]) -> dict[tuple[str, int], list[str]]:
    """Loopback addresses the routes of this configuration forward to, with the Services using
    each; ingressctl's own listen ports are left out. Empty when the configuration does not load
    (`serve` then says why)."""
    from ingressctl.cli.serve_cmd import ServeOptions, load_config
    from ingressctl.cli.serve_flags import argument_parser, parsed_values
    from ingressctl.manifests import load_paths
    from ingressctl.model import IngressctlError
    from ingressctl.routing import compile as compile_snapshot
    from ingressctl.server.run import server_compile_options

    try:
        # `serve` prints usage errors and --help itself: do not say it twice.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            parsed = argument_parser().parse_args(list(serve_args))
        static = load_config(ServeOptions(**parsed_values(vars(parsed))))
        if not static.manifests:
            return {}
        snapshot = load_paths(list(static.manifests)).snapshot
        table, _ = compile_snapshot(snapshot, server_compile_options(static))
    except (IngressctlError, SystemExit):
        return {}
    own = {_port_of(ep.address) for ep in static.entrypoints}
    if static.api is not None:
        own.add(_port_of(static.api.address))
    routes = [*table.routes, *([table.default_route] if table.default_route is not None else [])]
    found: dict[tuple[str, int], list[str]] = {}
    for route in routes:
        name = f"{route.backend.namespace}/{route.backend.service}"
        for upstream in route.backend.upstreams:
            key = (upstream.host, upstream.port)
            if upstream.port in own:
                continue
            if not _is_loopback(upstream.host):
                _say(f"{upstream.authority} ({name}) is not a loopback address: no demo backend for it")
                continue
            names = found.setdefault(key, [])
            if name not in names:
                names.append(name)
    return found


def _die_with_parent() -> None:
    """In a child, before exec: receive SIGTERM when the launcher dies, however it dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _start_backends(backends: dict[tuple[str, int], list[str]]) -> subprocess.Popen[bytes] | None:
    if not backends:
        return None
    listen: list[str] = []
    for (host, port), names in sorted(backends.items()):
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        listen += ["--listen", f"{authority}={','.join(names)}"]
        _say(f"whoami on http://{authority}/ for {', '.join(names)}")
    return subprocess.Popen(
        [sys.executable, str(WHOAMI), *listen],
        stdout=subprocess.PIPE,
        preexec_fn=_die_with_parent,
        process_group=0,
    )


def _wait_until_listening(process: subprocess.Popen[bytes]) -> bool:
    """True once whoami says "ready" (every listener bound); False if it exits (it says why)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    process.stdout.close()
    if line.strip() == b"ready":
        return True
    process.wait()
    _say("the demo backends did not start; serving without them")
    return False


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Stopped(Exception):
    """A stop signal before `serve` started: nothing to drain, just clean up."""


def main(argv: Sequence[str]) -> int:
    _die_with_parent()  # `make run` killed outright: stop too, and the children with us
    serve: subprocess.Popen[bytes] | None = None
    backends: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        if serve is None:
            raise _Stopped
        if serve.poll() is None:
            serve.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        backends = _start_backends(demo_backends(argv))
        if backends is not None and not _wait_until_listening(backends):
            backends = None
        serve = subprocess.Popen(
            [sys.executable, "-m", "ingressctl", "serve", *argv],
            preexec_fn=_die_with_parent,
            process_group=0,
        )
        # Signals arrive while waiting: the handler passes them on and the wait goes on (PEP 475).
        code = serve.wait()
    except _Stopped:
        code = 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        started = time.monotonic()
        _stop(backends)
        if serve is not None and serve.poll() is None:  # only when something above failed
            serve.terminate()
            try:
                serve.wait(timeout=max(1.0, STOP_TIMEOUT_SECONDS - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
