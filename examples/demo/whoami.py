"""A tiny whoami: answers every request with who it is and what it received (like traefik/whoami).

    python examples/demo/whoami.py --listen 127.0.0.1:8081=sickrage --listen 127.0.0.1:8082=rtorrent

One process serves every `--listen ADDRESS=NAME`, each under its own name, so that behind a proxy
you can see which backend answered and what the proxy sent it:

    Name: sickrage
    Hostname: laptop
    IP: 127.0.0.1:8081
    RemoteAddr: 127.0.0.1:51334
    GET / HTTP/1.1
    Host: sickrage.example.test
    X-Forwarded-For: 127.0.0.1
    ...

`GET /api` gives the same as JSON, `GET /health` answers 200 "OK". An address already in use is
reported and skipped (the others still start); "ready" on stdout says every listener is bound.
SIGTERM or SIGINT stops it at once, exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys

from aiohttp import web
from aiohttp.web_request import BaseRequest


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{address!r} is not HOST:PORT (for example 127.0.0.1:8081 or [::1]:8081)")
    return host.strip("[]"), int(port)


def _listen_arg(value: str) -> tuple[str, int, str]:
    address, _, name = value.partition("=")
    try:
        host, port = _split_address(address)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return host, port, name or address


def _peer(request: BaseRequest, key: str) -> str:
    transport = request.transport
    info = transport.get_extra_info(key) if transport is not None else None
    if not info:
        return "-"
    host, port = info[0], info[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Whoami:
    def __init__(self, name: str) -> None:
        self.name = name
        self.hostname = socket.gethostname()

    def facts(self, request: BaseRequest, headers: list[tuple[str, str]]) -> dict[str, object]:
        return {
            "name": self.name,
            "hostname": self.hostname,
            "ip": _peer(request, "sockname"),
            "remote_addr": _peer(request, "peername"),
            "method": request.method,
            "url": request.path_qs,
            "proto": f"HTTP/{request.version.major}.{request.version.minor}",
            # As traefik/whoami's /api: every value of each header, under the name as sent.
            "headers": {name: [v for k, v in headers if k == name] for name, _ in headers},
        }

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        body = await request.read()  # read what was sent, so the connection can be reused
        if request.path == "/health":
            return web.Response(text="OK")
        # Raw headers, in the order and spelling the proxy sent them.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        facts = self.facts(request, headers)
        if request.path == "/api":
            facts["body_bytes"] = len(body)
            return web.Response(text=json.dumps(facts, indent=2) + "\n", content_type="application/json")
        lines = [
            f"Name: {facts['name']}",
            f"Hostname: {facts['hostname']}",
            f"IP: {facts['ip']}",
            f"RemoteAddr: {facts['remote_addr']}",
            f"{facts['method']} {facts['url']} {facts['proto']}",
            *(f"{k}: {v}" for k, v in headers),
        ]
        if body:
            lines.append(f"({len(body)} bytes of body)")
        return web.Response(text="\n".join(lines) + "\n")


async def serve(listeners: list[tuple[str, int, str]]) -> int:
    runners: list[web.ServerRunner] = []
    bound = 0
    for host, port, name in listeners:
        server = web.Server(Whoami(name).handle)
        runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, reuse_address=True).start()
        except OSError as exc:
            print(
                f"whoami: cannot listen on {host}:{port} for {name} (in use?): {exc.strerror or exc}; "
                "whatever listens there answers instead",
                file=sys.stderr,
                flush=True,
            )
            await runner.cleanup()
            continue
        runners.append(runner)
        bound += 1
    if not bound:
        print("whoami: no address to listen on", file=sys.stderr, flush=True)
        return 1
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Answer every request with who answered and what came.")
    parser.add_argument(
        "--listen",
        action="append",
        type=_listen_arg,
        required=True,
        metavar="ADDRESS=NAME",
        help="listen on ADDRESS (HOST:PORT) and answer as NAME; repeatable",
    )
    args = parser.parse_args(argv)
    return asyncio.run(serve(args.listen))


if __name__ == "__main__":
    sys.exit(main())
