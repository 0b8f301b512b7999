"""Which headers carry the client's TLS certificate to the backend (Traefik 1.7 pass-tls-cert /
pass-client-tls-cert, ingress-nginx auth-tls-pass-certificate-to-upstream)."""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.model.client_cert_header_names import NGINX_CERT_HEADER as NGINX_CERT_HEADER
from ingressctl.model.client_cert_header_names import TRAEFIK_CERT_HEADER as TRAEFIK_CERT_HEADER
from ingressctl.model.client_cert_header_names import TRAEFIK_INFOS_HEADER as TRAEFIK_INFOS_HEADER
from ingressctl.model.client_cert_header_names import TRAEFIK_V2_INFO_HEADER as TRAEFIK_V2_INFO_HEADER


@dataclass(frozen=True, slots=True)
class NameFields:
    """Which attributes of a distinguished name go into the infos header (Traefik's order:
    DC, C, ST, L, O, SN, CN)."""

    domain_component: bool = False
    country: bool = False
    province: bool = False
    locality: bool = False
    organization: bool = False
    serial_number: bool = False
    common_name: bool = False

    def labels(self) -> list[str]:
        chosen = (
            ("DC", self.domain_component),
            ("C", self.country),
            ("ST", self.province),
            ("L", self.locality),
            ("O", self.organization),
            ("SN", self.serial_number),
            ("CN", self.common_name),
        )
        return [label for label, on in chosen if on]


@dataclass(frozen=True, slots=True)
class InfoFields:
    """Traefik 1.7's `infos`: what X-Forwarded-Tls-Client-Cert-Infos holds."""

    subject: NameFields | None = None
    issuer: NameFields | None = None
    not_before: bool = False
    not_after: bool = False
    sans: bool = False

    def labels(self) -> list[str]:
        out: list[str] = []
        if self.subject is not None:
            out.append("Subject(" + ",".join(self.subject.labels()) + ")")
        if self.issuer is not None:
            out.append("Issuer(" + ",".join(self.issuer.labels()) + ")")
        out += [
            name for name, on in (("NB", self.not_before), ("NA", self.not_after), ("SAN", self.sans)) if on
        ]
        return out


@dataclass(frozen=True, slots=True)
class ClientCertHeaders:
    """A route's certificate headers. The headers of each spelling asked for are always removed
    from the client's request first: only the proxy's own value (or nothing) reaches the backend."""

    traefik_pem: bool = False  # X-Forwarded-Tls-Client-Cert
    traefik_infos: InfoFields | None = None  # X-Forwarded-Tls-Client-Cert-Infos
    traefik: bool = False  # a Traefik spelling was given: its headers are cleared
    nginx_pem: bool = False  # ssl-client-cert
    annotations: tuple[str, ...] = ()  # the keys that asked for it

    def header_names(self) -> tuple[str, ...]:
        """Every header this route controls (set from the certificate, or removed)."""
        names: list[str] = []
        if self.traefik:
            names += [TRAEFIK_CERT_HEADER, TRAEFIK_INFOS_HEADER, TRAEFIK_V2_INFO_HEADER]
        if self.nginx_pem:
            names.append(NGINX_CERT_HEADER)
        return tuple(names)
