"""The stage of a route's chain that passes the client's TLS certificate on to the backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model import Route
from ingressctl.model.client_cert_headers import (
    NGINX_CERT_HEADER,
    TRAEFIK_CERT_HEADER,
    TRAEFIK_INFOS_HEADER,
    ClientCertHeaders,
)
from ingressctl.routing.chain_spec import ChainSpec, Description


@dataclass(frozen=True, slots=True)
class ClientCertHeadersSpec(ChainSpec):
    """Set the certificate headers from the handshake's verified client certificate; remove the
    client's own headers of those names in every case."""

    name: ClassVar[str] = "pass-client-cert"
    headers: ClientCertHeaders
    # The route's auth-tls CAs (ClientAuth.ca_id), "" without: a certificate the handshake verified
    # for other CAs (another host's) is not passed on.
    ca_id: str = ""
    ca_source: str = ""

    def set_headers(self) -> list[str]:
        h = self.headers
        out: list[str] = []
        if h.traefik_pem:
            out.append(f"{TRAEFIK_CERT_HEADER} (escaped PEM body)")
        if h.traefik_infos is not None:
            out.append(f"{TRAEFIK_INFOS_HEADER} ({', '.join(h.traefik_infos.labels())})")
        if h.nginx_pem:
            out.append(f"{NGINX_CERT_HEADER} (URL-encoded PEM)")
        return out

    def describe(self) -> Description:
        verified = (
            f"verified against the CAs of {self.ca_source}"
            if self.ca_id
            else "verified against the entrypoint's clientCA"
        )
        sets = self.set_headers()
        removed = list(self.headers.header_names())
        effect = (
            f"sets {'; '.join(sets)} from the client certificate {verified}; " if sets else ""
        ) + f"removes {', '.join(removed)} sent by the client"
        return {
            "name": self.name,
            "effect": effect,
            "sets": sets,
            "removes": removed,
            "annotations": list(self.headers.annotations),
        }


def client_cert_header_specs(route: Route) -> list[ClientCertHeadersSpec]:
    headers = route.middlewares.client_cert_headers
    if headers is None:
        return []
    auth = route.middlewares.client_auth
    if auth is None:
        return [ClientCertHeadersSpec(headers)]
    return [ClientCertHeadersSpec(headers, auth.ca_id, auth.source)]
