"""What the request path knows about an entrypoint, built from the static configuration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp.web_request import BaseRequest

from ingressctl.model.config import EntryPointRedirect
from ingressctl.proxy.exchange import ResponseFilter
from ingressctl.proxy.headers import TrustedNetworks
from ingressctl.proxy.middlewares.basic_auth import Authenticator
from ingressctl.proxy.middlewares.compress import COMPRESS

HostCheck = Callable[[BaseRequest, str], bool]
"""For TLS entrypoints: False when the Host is not covered by the certificate served for the SNI (→ 421).

The answer must depend only on the TLS connection (its SNI and certificate) and the host: the proxy
remembers it per connection and host, so keep-alive requests do not pay for the check again.
"""


class ConnectionMemo:
    """A base of the server's HTTP/1.1 protocol (one object per client connection): what the request
    path remembers for the connection, read as `request.protocol.host_answers`."""

    __slots__ = ()
    # Host -> HostCheck answer for this connection (the subclass holds it in a slot).
    host_answers: dict[str, bool]


@dataclass(slots=True)
class EntrypointRuntime:
    """What the request path knows about the entrypoint a request arrived on."""

    name: str
    scheme: str = "http"
    redirect: EntryPointRedirect | None = None
    # Runs in every route's chain on this entrypoint, just before the route's own basic auth.
    auth: Authenticator | None = None
    trusted: TrustedNetworks = field(default_factory=lambda: TrustedNetworks(()))
    host_check: HostCheck | None = None
    # [entryPoints.X] compress = true: the response filter that compresses (proxy.middlewares.compress).
    compress: ResponseFilter | None = None


def entrypoint_runtime(
    name: str,
    scheme: str,
    redirect: EntryPointRedirect | None,
    auth_users: Sequence[tuple[str, str]] | None,
    realm: str,
    trusted_ips: Sequence[str],
    host_check: HostCheck | None = None,
    compress: bool = False,
) -> EntrypointRuntime:
    """Build an EntrypointRuntime from static-configuration parts."""
    auth = Authenticator(auth_users, realm, f"entrypoint {name}") if auth_users else None
    return EntrypointRuntime(
        name, scheme, redirect, auth, TrustedNetworks(trusted_ips), host_check, COMPRESS if compress else None
    )
