"""Fixtures for the request path: real aiohttp backends and a real proxy, all on 127.0.0.1 port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ingressctl.model import (
    BackendProblem,
    HostKind,
    ObjectRef,
    PathType,
    Route,
    RouteBackend,
    RouteMiddlewares,
    Upstream,
)
from ingressctl.proxy import EntrypointInfo, EntrypointRuntime, Proxy, ProxyOptions, TablePlan
from ingressctl.routing import RoutingTable


def route(
    rid: str,
    upstreams: Sequence[tuple[str, int] | tuple[str, int, int]] = (),
    *,
    host: str | None = None,
    path: str = "/",
    path_type: PathType = PathType.PREFIX,
    middlewares: RouteMiddlewares | None = None,
    problem: BackendProblem | None = None,
    entrypoints: tuple[str, ...] = (),
    **extra: Any,
) -> Route:
    ups = tuple(Upstream(u[0], u[1], u[2] if len(u) > 2 else 1) for u in upstreams)  # type: ignore[misc]
    kind = HostKind.ANY if host is None else (HostKind.WILDCARD if host.startswith("*.") else HostKind.EXACT)
    return Route(
        id=rid,
        host=host,
        host_kind=kind,
        path=path,
        path_type=path_type,
        backend=RouteBackend("default", rid, "80", ups, problem=problem, problem_detail="test"),
        source=ObjectRef("Ingress", "default", rid),
        middlewares=middlewares or RouteMiddlewares(),
        entrypoints=entrypoints,
        **extra,
    )


@dataclass
class Backend:
    port: int
    seen: list[dict[str, Any]] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


BackendFactory = Callable[..., Awaitable[Backend]]


@pytest.fixture
async def backend() -> AsyncIterator[BackendFactory]:
    """Start an echo backend: answers JSON describing the request; extra routes can be added."""
    runners: list[web.AppRunner] = []

    async def start(
        name: str = "b", extra: Callable[[web.Application, Backend], None] | None = None
    ) -> Backend:
        app = web.Application(client_max_size=1024**4)
        state = Backend(0)

        async def echo(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            info = {
                "backend": name,
                "method": request.method,
                "path_qs": request.raw_path,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body_len": len(body),
            }
            state.seen.append(info)
            peer = request.transport.get_extra_info("peername") if request.transport else None
            if peer:
                state.peers.add((peer[0], peer[1]))
            return web.json_response(info, headers={"X-Backend": name})

        if extra is not None:
            extra(app, state)
        app.router.add_route("*", "/{tail:.*}", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        assert site._server is not None
        state.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return state

    yield start
    for runner in runners:
        await runner.cleanup()


@dataclass
class RunningProxy:
    proxy: Proxy
    ports: dict[str, int]
    runners: list[web.ServerRunner]

    def url(self, path: str = "/", entrypoint: str = "web") -> str:
        return f"http://127.0.0.1:{self.ports[entrypoint]}{path}"

    def set_routes(
        self,
        routes: Sequence[Route],
        default_route: Route | None = None,
        default_entrypoints: Sequence[str] = (),
    ) -> None:
        table = RoutingTable(routes, (), default_route)
        infos = [EntrypointInfo(name, "http", port) for name, port in self.ports.items()]
        self.proxy.plan = TablePlan(table, infos, default_entrypoints, RoutingTable)


ProxyFactory = Callable[..., Awaitable[RunningProxy]]


@pytest.fixture
async def proxy_server() -> AsyncIterator[ProxyFactory]:
    """Start a Proxy with one or more entrypoints (EntrypointRuntime) on port 0."""
    started: list[RunningProxy] = []

    async def start(
        routes: Sequence[Route] = (),
        entrypoints: Sequence[EntrypointRuntime] | None = None,
        options: ProxyOptions | None = None,
        default_route: Route | None = None,
        **proxy_kwargs: Any,
    ) -> RunningProxy:
        proxy = Proxy(options or ProxyOptions(), **proxy_kwargs)
        eps = list(entrypoints or [EntrypointRuntime("web")])
        ports: dict[str, int] = {}
        runners = []
        for ep in eps:
            server = web.Server(proxy.handler(ep), access_log=None)
            runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            assert site._server is not None
            ports[ep.name] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            runners.append(runner)
        running = RunningProxy(proxy, ports, runners)
        running.set_routes(routes, default_route)
        started.append(running)
        return running

    yield start
    for running in started:
        for runner in running.runners:
            await runner.cleanup()
        await running.proxy.close()
