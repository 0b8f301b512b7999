"""A standalone challenge responder for one-shot issuance (`certs request`), on the running event loop.

HTTP-01: a minimal aiohttp server answering `/.well-known/acme-challenge/TOKEN`.
TLS-ALPN-01: a TLS server whose SNI callback swaps in the challenge certificate for the name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from aiohttp import web

from ingressctl.acme.challenges import ACME_TLS_ALPN, ChallengeStore
from ingressctl.model import UsageError


def parse_listen(address: str, default_port: int) -> tuple[str, int]:
    """`host:port`, `:port`, `[v6]:port` or `host` → (host, port); "" host means all interfaces."""
    host, sep, port = address.rpartition(":")
    if not sep or "]" in port:
        host, port = address, str(default_port)
    host = host.strip("[]")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(
            f"--listen {address!r}: the port must be a number, e.g. :80 or 127.0.0.1:5002"
        ) from None
    if not 0 < number < 65536:
        raise UsageError(f"--listen {address!r}: port {number} is out of range")
    return host, number


class _Closer(asyncio.Protocol):
    """TLS-ALPN-01 needs only the handshake; the CA closes right after it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._transport.close()


class StandaloneResponder:
    def __init__(self, store: ChallengeStore, challenge: str, host: str, port: int) -> None:
        self.store = store
        self.challenge = challenge
        self.host = host or None
        self.port = port
        self._runner: web.ServerRunner | None = None
        self._server: asyncio.Server | None = None

    async def _http(self, request: web.BaseRequest) -> web.StreamResponse:
        answer = self.store.http01_response(request.path)
        if answer is None:
            return web.Response(status=404, text="not a pending ACME challenge\n")
        return web.Response(text=answer, content_type="text/plain")

    def _tls_context(self) -> ssl.SSLContext:
        base = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        base.set_alpn_protocols([ACME_TLS_ALPN])

        def pick(sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> int | None:
            ctx = self.store.tls_alpn_context(server_name)
            if ctx is None:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            sslobj.context = ctx
            return None

        base.sni_callback = pick
        return base

    async def start(self) -> None:
        try:
            if self.challenge == "http-01":
                self._runner = web.ServerRunner(web.Server(self._http), access_log=None)
                await self._runner.setup()
                await web.TCPSite(self._runner, self.host, self.port, reuse_address=True).start()
            else:
                loop = asyncio.get_running_loop()
                self._server = await loop.create_server(
                    _Closer, self.host, self.port, ssl=self._tls_context(), reuse_address=True
                )
        except OSError as exc:
            await self.stop()
            where = f"{self.host or '*'}:{self.port}"
            raise UsageError(
                f"cannot listen on {where} for {self.challenge}: {exc.strerror or exc}; "
                "free the port or choose another with --listen (the CA connects to port "
                f"{80 if self.challenge == 'http-01' else 443}, so forward it there)"
            ) from None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
