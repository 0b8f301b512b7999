"""ACME in the running server: the certificate manager wired to the proxy and the certificate store.

- HTTP-01: a pre-routing hook answers `/.well-known/acme-challenge/TOKEN` for pending tokens on
  every entrypoint, before redirects and auth (unknown tokens fall through to the routes, so an
  application's own ACME client keeps working).
- TLS-ALPN-01: the store asks the manager for a challenge context during the handshake.
- onHostRule: after each reload the manager learns the table's TLS hosts (and which a Secret covers).
- onDemand: SNI names that got only the default certificate are offered to the manager (it gates them).
- Issued and stored certificates go into the store as the ACME source.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from ingressctl.model.config import AcmeConfig
from ingressctl.proxy.plan import Table
from ingressctl.routing.hosts import tls_host_covers

log = logging.getLogger("ingressctl.acme")

_CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


class AcmeIntegration:
    def __init__(self, config: AcmeConfig, store: Any) -> None:
        from ingressctl.acme import CertificateManager

        self.config = config
        self.store = store
        self._issued: dict[str, Any] = {}
        self.manager = CertificateManager(config, on_certificate=self._on_certificate)

    async def start(self) -> None:
        store = self.store
        if store is not None:
            if self.config.challenge == "tls-alpn-01":
                store.set_alpn_challenge_provider(self.manager.tls_alpn_context)
            if self.config.on_demand:
                store.set_miss_listener(self.manager.request_on_demand)
        await self.manager.start()

    async def stop(self) -> None:
        await self.manager.stop()

    async def http01_hook(self, request: BaseRequest, entrypoint: str) -> StreamResponse | None:
        path = request.path
        if not path.startswith(_CHALLENGE_PREFIX):
            return None
        answer = self.manager.http01_response(path)
        if answer is None:
            return None
        return web.Response(text=answer, content_type="application/octet-stream")

    def on_table(self, table: Table) -> None:
        hosts = {r.host for r in table.routes if r.host and r.tls is not None}
        from_secrets = {
            host
            for host in hosts
            for cert in table.certificates
            if any(tls_host_covers(h, host) for h in cert.hosts)
        }
        self.manager.set_hosts(hosts, from_secrets)

    def _on_certificate(self, main: str, sans: tuple[str, ...], cert_pem: bytes, key_pem: bytes) -> None:
        if self.store is None:
            return
        from ingressctl.tls.store import CertificateInput, CertificateSource

        self._issued[main] = CertificateInput(cert_pem, key_pem, f"ACME {main}")
        self.store.replace(CertificateSource.ACME, list(self._issued.values()))
        log.info("ACME certificate for %s installed", ", ".join((main, *sans)))
