"""One server process: entrypoints, providers, the watch loop, the API, signals, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model import Diagnostic, IngressctlError, Route, Snapshot, TLSCertificate
from ingressctl.model.config import EntryPoint, StaticConfig
from ingressctl.providers.base import Provider
from ingressctl.proxy import (
    AccessLog,
    EntrypointInfo,
    PreRoutingHook,
    Proxy,
    ProxyObserver,
    ProxyOptions,
    TablePlan,
)
from ingressctl.proxy.handler import HostCheck, entrypoint_runtime
from ingressctl.proxy.plan import Table, TableFactory
from ingressctl.routing.hosts import is_ip_address
from ingressctl.routing.options import CompileOptions
from ingressctl.server import h2_entrypoint, memory
from ingressctl.server.limits import EntrypointGate, raise_open_files_limit
from ingressctl.server.listeners import bind_socket, bound_address, sees_mapped_ipv4
from ingressctl.server.ports import AcmePort, ClusterPort
from ingressctl.server.protocol import ABORT_UNWIND_SECONDS, EntrypointRequestHandler, aborted_message, drain
from ingressctl.server.proxy_listener import PeerRequestHandler, ProxyProtocolSite
from ingressctl.server.reload import CompiledConfig, CompileFn, Listener, OutcomeFn
from ingressctl.server.state import CertificateView, RuntimeState
from ingressctl.server.watcher import Watcher

log = logging.getLogger("ingressctl.server")


class Closer(Protocol):
    async def cleanup(self) -> None: ...


ApiStarter = Callable[[RuntimeState], Awaitable[Closer | None]]


class TLSProvider(CertificateView, Protocol):
    """What the server needs from the certificate store (ingressctl.tls.store.CertificateStore)."""

    def ssl_context(self, entrypoint: EntryPoint) -> ssl.SSLContext: ...

    def host_check(self, entrypoint: EntryPoint) -> HostCheck | None: ...

    def update(self, certificates: Sequence[TLSCertificate]) -> None: ...

    def set_routes(self, routes: Sequence[Route]) -> None: ...


@dataclass
class ServerParts:
    """What the CLI plugs into the server (kept out of the server so the layers stay clean)."""

    providers: Sequence[Provider] = ()
    compile_fn: CompileFn | None = None
    make_table: TableFactory | None = None
    observer: ProxyObserver | None = None
    start_api: ApiStarter | None = None
    on_reload: OutcomeFn | None = None
    tls: TLSProvider | None = None
    proxy_options: ProxyOptions = field(default_factory=ProxyOptions)
    # Pre-bound sockets by entrypoint name (workers); otherwise the server binds them itself.
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    reuse_port: bool = False
    serve_api: bool = True
    # Extra pre-routing hooks.
    hooks: Sequence[PreRoutingHook] = ()
    acme: AcmePort | None = None
    cluster: ClusterPort | None = None


class Server:
    def __init__(self, static: StaticConfig, parts: ServerParts) -> None:
        self.static = static
        self.parts = parts
        self.state = RuntimeState(static, certificate_store=parts.tls)
        self.state.cluster = parts.cluster
        access = AccessLog(static.access_log_format) if static.access_log else None
        self.proxy = Proxy(parts.proxy_options, parts.observer, access)
        self.state.failing_source = lambda: self.proxy.pool.failing()
        if parts.acme is not None:
            self.proxy.hooks.append(parts.acme.http01_hook)
        self.proxy.hooks.extend(parts.hooks)
        self.watcher: Watcher | None = None
        self._runners: list[web.ServerRunner] = []
        self._h2: list[h2_entrypoint.H2Entrypoint] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._api: Closer | None = None
        self._stopped = asyncio.Event()
        self._infos: list[EntrypointInfo] = []
        self._trim: asyncio.TimerHandle | None = None
        self._collector = memory.ReloadCollector()

    # ------------------------------------------------------------ start

    async def start(self) -> None:
        """Bind every entrypoint, start the API, the watch loop and the providers."""
        static = self.static
        parts = self.parts
        sockets: dict[str, socket.socket] = dict(parts.sockets)
        try:
            for ep in static.entrypoints:
                if ep.name not in sockets:
                    sockets[ep.name] = bind_socket(
                        ep.name, ep.address, reuse_port=parts.reuse_port, tls=ep.tls is not None
                    )
        except Exception:
            for sock in sockets.values():
                sock.close()
            raise
        infos = []
        for ep in static.entrypoints:
            port = sockets[ep.name].getsockname()[1]
            infos.append(EntrypointInfo(ep.name, "https" if ep.tls is not None else "http", port))
            self.state.bound[ep.name] = bound_address(sockets[ep.name])
        self._infos = infos
        self.watcher = Watcher(
            self.state,
            self._compile_fn(),
            self._listeners(),
            plan=self._plan,
            throttle=static.throttle_seconds,
            on_reload=parts.on_reload,
        )
        if parts.acme is not None:
            await parts.acme.start()
        for ep in static.entrypoints:
            await self._start_entrypoint(ep, sockets[ep.name])
        if parts.serve_api and parts.start_api is not None:
            self._api = await parts.start_api(self.state)
        self._tasks.append(asyncio.ensure_future(self.watcher.run()))
        for provider in parts.providers:
            self._tasks.append(asyncio.ensure_future(self._run_provider(provider)))
        if parts.cluster is not None:
            await parts.cluster.start()
        self.state.set_listening(True)
        memory.settle_after_startup()
        log.info(
            "listening: %s",
            ", ".join(f"{name}={addr}" for name, addr in self.state.bound.items()),
        )

    def _compile_fn(self) -> CompileFn:
        if self.parts.compile_fn is not None:
            return self.parts.compile_fn
        from ingressctl.routing import CompileCache
        from ingressctl.routing import compile as compile_snapshot

        options = server_compile_options(self.static)
        if options.gateway and self._infos:
            # Gateway listeners attach by port: the ports bound (an address's :0 included).
            ports = tuple((i.name, i.port, i.scheme == "https") for i in self._infos)
            options = dataclasses.replace(options, entrypoint_ports=ports)
        # Reloads run one at a time (the watch loop awaits each), so one cache serves them all.
        cache = CompileCache()

        def run(snapshot: Snapshot) -> tuple[Table, list[Diagnostic]]:
            table, diagnostics = compile_snapshot(snapshot, options, cache)
            return table, list(diagnostics)

        return run

    def _listeners(self) -> list[Listener]:
        """The reload pipeline's steps, in order: certificates before the routes that use them, ACME
        told of the new hosts, the proxy swap, then (once applied) the Ingress status."""
        parts = self.parts
        listeners: list[Listener] = []
        tls, acme, cluster = parts.tls, parts.acme, parts.cluster
        if tls is not None:

            def certificates(config: CompiledConfig) -> None:
                tls.update(config.certificates)
                tls.set_routes(config.table.routes)  # hosts asking for client certificates

            listeners.append(Listener("certificate store", certificates))
        if acme is not None:
            listeners.append(Listener("acme", lambda config: acme.on_table(config.table, config.plan)))
        listeners.append(Listener("proxy swap", self._swap))
        if cluster is not None:

            def status(config: CompiledConfig) -> None:
                cluster.on_table(config.table)  # the Gateway API status it carries
                cluster.on_applied(config.updates)

            listeners.append(Listener("ingress status", status, essential=False))
        return listeners

    def _plan(self, table: Table) -> TablePlan:
        # The plan in service is the one this replaces (reloads are sequential): unchanged routes
        # keep their RoutePlan.
        return TablePlan(
            table, self._infos, self.static.default_entrypoints, self._make_table(), previous=self.proxy.plan
        )

    def _make_table(self) -> TableFactory:
        if self.parts.make_table is not None:
            return self.parts.make_table
        from ingressctl.routing import RoutingTable

        return RoutingTable

    def _swap(self, config: CompiledConfig) -> None:
        plan = config.plan if config.plan is not None else self._plan(config.table)
        self.proxy.plan = plan  # the one atomic swap; requests in flight keep the plan they read
        self._collector.after_swap()
        # Compiling allocated and freed a lot (in a worker thread): return the pages once reloads
        # settle (one trim per burst, not one per reload), without a full collection on the loop.
        if self._trim is not None:
            self._trim.cancel()
        self._trim = asyncio.get_running_loop().call_later(1.0, self._collector.settle)

    async def _start_entrypoint(self, ep: EntryPoint, sock: socket.socket) -> None:
        ssl_context: ssl.SSLContext | None = None
        host_check: HostCheck | None = None
        if ep.tls is not None:
            tls = self.parts.tls
            if tls is None:
                from ingressctl.model import ConfigError

                raise ConfigError(f"entrypoint {ep.name!r} uses TLS but no certificate store is available")
            ssl_context = tls.ssl_context(ep)
            host_check = _ignore_ip_sni(tls.host_check(ep))
        runtime = entrypoint_runtime(
            ep.name,
            "https" if ep.tls is not None else "http",
            ep.redirect,
            ep.auth.users if ep.auth is not None else None,
            ep.auth.realm if ep.auth is not None else "",
            ep.trusted_ips,
            host_check,
            compress=ep.compress,
        )
        # The PROXY header's client, or an IPv4 client of a dual-stack socket as IPv4, is the peer.
        peer_aware = ep.proxy_protocol is not None or sees_mapped_ipv4(sock)
        handler = self.proxy.handler(runtime)
        h2 = None
        if ep.http2.enabled if ep.tls is not None else ep.http2.h2c:
            h2 = h2_entrypoint.H2Entrypoint(
                ep.name,
                handler,
                ep.http2,
                ep.limits,
                getattr(self.parts.observer, "on_connection_open", None),
                getattr(self.parts.observer, "on_connection_close", None),
            )
            self._h2.append(h2)
        server = _EntrypointServer(
            handler,
            ep.name,
            self.parts.observer,
            handler_class=PeerRequestHandler if peer_aware else EntrypointRequestHandler,
            gate=EntrypointGate(ep.name, ep.limits),
            h2=h2,
            access_log=None,
            # aiohttp's own limits: generous header size (README "Security limits").
            max_line_size=16384,
            max_field_size=16384,
            keepalive_timeout=ep.limits.idle_timeout,
        )
        # stop() drains the requests in flight itself (one deadline for all); by the time the runner
        # cleans up, what is left is unwinding from being aborted.
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=ABORT_UNWIND_SECONDS)
        await runner.setup()
        site: web.BaseSite
        if ep.proxy_protocol is not None:
            site = ProxyProtocolSite(
                runner,
                sock,
                trusted=ep.proxy_protocol.trusted_ips,
                entrypoint=ep.name,
                ssl_context=ssl_context,
                backlog=1024,
            )
        else:
            site = web.SockSite(runner, sock, ssl_context=ssl_context, backlog=1024)
        await site.start()
        self._runners.append(runner)

    async def _run_provider(self, provider: Provider) -> None:
        assert self.watcher is not None
        try:
            await provider.run(self.watcher.publish, self.watcher.report)
        except asyncio.CancelledError:
            raise
        except IngressctlError as exc:  # its configuration is unusable: say so in one line
            log.error("provider %s stopped: %s", provider.name, exc)
        except Exception:
            log.exception("provider %s stopped", provider.name)

    # ------------------------------------------------------------ control

    def reload(self) -> None:
        """SIGHUP: providers read again, and the table is recompiled even if nothing changed."""
        log.info("reload requested")
        for provider in self.parts.providers:
            reload = getattr(provider, "reload", None)
            if callable(reload):
                reload()
        if self.watcher is not None:
            self.watcher.request_reload()

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish within the grace period, close everything."""
        grace = self.static.grace_period_seconds
        deadline = asyncio.get_running_loop().time() + grace
        self.state.set_listening(False)
        if self._trim is not None:
            self._trim.cancel()
        if self.parts.cluster is not None:
            # First: give the Lease up so another replica leads while we drain.
            with contextlib.suppress(Exception):
                await self.parts.cluster.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._drain(deadline, grace)
        await asyncio.gather(*(runner.cleanup() for runner in self._runners), return_exceptions=True)
        self._runners.clear()
        if self._api is not None:
            with contextlib.suppress(Exception):
                await self._api.cleanup()
            self._api = None
        if self.parts.acme is not None:
            with contextlib.suppress(Exception):
                await self.parts.acme.stop()
        await self.proxy.close()
        self._stopped.set()

    async def _drain(self, deadline: float, grace: float) -> None:
        """Close the listeners and idle connections, give requests in flight until `deadline`, abort
        (and name) the rest. aiohttp's runner.cleanup() would wait up to twice its timeout and cut
        requests silently (see ingressctl.server.protocol)."""
        servers = [runner.server for runner in self._runners if runner.server is not None]
        for runner in self._runners:
            for site in list(runner.sites):
                with contextlib.suppress(Exception):
                    await site.stop()
        # As runner.cleanup() does: let connections accepted just before start their request.
        await asyncio.sleep(0)
        for server in servers:
            server.pre_shutdown()
        aborted, cut = await asyncio.gather(
            drain(servers, deadline), h2_entrypoint.shutdown(self._h2, deadline)
        )
        aborted += cut
        if aborted:
            log.warning(aborted_message(aborted, grace))

    async def serve_until_signal(self) -> None:
        """Run until SIGTERM or SIGINT; SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await stop.wait()
            log.info(
                "shutting down: draining requests in flight (grace %gs)", self.static.grace_period_seconds
            )
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        await self.stop()
        log.info("stopped")


def server_compile_options(static: StaticConfig) -> CompileOptions:
    """The compiler options `serve` uses: the configuration's, plus what only the server knows.

    - A cluster snapshot holds every Service and only the referenced Secrets: a missing one is a real
      error there (`require_services`), not "the manifests did not include it".
    - `router.tls` routes are served on the TLS entrypoints only.
    """
    from ingressctl.config import compile_options

    options = compile_options(static)
    if static.kubernetes is not None and not options.require_services:
        options = dataclasses.replace(options, require_services=True)
    if not options.tls_entrypoints:
        tls = tuple(e.name for e in static.entrypoints if e.tls is not None)
        if tls:
            options = dataclasses.replace(options, tls_entrypoints=tls)
    return options


class _EntrypointServer(web.Server):
    """aiohttp's low-level server, telling the observer (metrics) about connections opening/closing,
    its connections answering malformed requests without tracebacks (ingressctl.server.protocol)."""

    def __init__(
        self,
        handler: Callable[[BaseRequest], Awaitable[StreamResponse]],
        entrypoint: str,
        observer: ProxyObserver | None,
        handler_class: type[EntrypointRequestHandler] = EntrypointRequestHandler,
        gate: EntrypointGate | None = None,
        h2: h2_entrypoint.H2Entrypoint | None = None,
        **kwargs: Any,  # aiohttp's own Server/RequestHandler options, passed through untouched
    ) -> None:
        super().__init__(handler, **kwargs)
        self._entrypoint = entrypoint
        self._handler_class = handler_class
        self._gate = gate
        self._h2 = h2
        self._on_open = getattr(observer, "on_connection_open", None)
        self._on_close = getattr(observer, "on_connection_close", None)

    def __call__(self) -> RequestHandler:
        # As web.Server.__call__, with the protocol that answers malformed requests concisely.
        return self._handler_class(self, loop=self._loop, gate=self._gate, h2=self._h2, **self._kwargs)

    async def shutdown(self, timeout: float | None = None) -> None:
        await super().shutdown(timeout)
        if self._gate is not None:
            self._gate.close()  # its deadline timer

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if self._on_open is not None:
            self._on_open(self._entrypoint)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        if self._on_close is not None:
            self._on_close(self._entrypoint)


def _ignore_ip_sni(check: HostCheck | None) -> HostCheck | None:
    """An IP literal is not a valid SNI name (RFC 6066 3); some clients (wrk, OpenSSL s_client) send
    one anyway. Such a connection is treated as one without SNI: every Host is allowed on it."""
    if check is None:
        return None
    inner = check

    def allowed(request: BaseRequest, host: str) -> bool:
        if inner(request, host):
            return True
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        name = getattr(ssl_object, "server_hostname", None) or _sni_of(ssl_object)
        return bool(name) and is_ip_address(name.strip("[]"))

    return allowed


def _sni_of(ssl_object: object) -> str:
    try:
        from ingressctl.tls.handshake import server_name_of
    except ImportError:
        return ""
    return server_name_of(ssl_object) or ""


def install_uvloop() -> bool:
    """Use uvloop when installed (measured faster); INGRESSCTL_EVENT_LOOP=asyncio opts out."""
    from ingressctl.server.eventloop import uvloop_wanted

    if not uvloop_wanted():
        return False
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def run_server(static: StaticConfig, parts: ServerParts) -> None:
    memory.limit_arenas()
    raise_open_files_limit()
    server = Server(static, parts)
    await server.start()
    await server.serve_until_signal()
