"""The client-certificate stage of a route's chain (ingress-nginx auth-tls-*), as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model.client_auth import ClientAuth
from ingressctl.routing.chain_spec import ChainSpec, Description


@dataclass(frozen=True, slots=True)
class ClientCertSpec(ChainSpec):
    """Require (or allow) a client certificate verified in the handshake against the route's CAs."""

    name: ClassVar[str] = "client-certificate"
    auth: ClientAuth

    @property
    def label(self) -> str:
        return self.name if self.auth.required else f"{self.name}(optional)"

    def describe(self) -> Description:
        refused = f"302 to {self.auth.error_page}" if self.auth.error_page else "400"
        if self.auth.required:
            effect = f"{refused} unless the client presented a certificate of the CAs of {self.auth.source}"
        else:
            effect = f"a presented certificate must be of the CAs of {self.auth.source} (else {refused})"
        return {
            "name": self.name,
            "effect": effect,
            "required": self.auth.required,
            "source": self.auth.source,
            "cas": list(self.auth.ca_subjects),
            "verify_depth": self.auth.depth,
        }
