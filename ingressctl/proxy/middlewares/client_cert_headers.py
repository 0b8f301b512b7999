"""pass-client-cert: the client's TLS certificate to the backend in headers (Traefik 1.7
pass-tls-cert / pass-client-tls-cert, ingress-nginx auth-tls-pass-certificate-to-upstream).

Only a certificate the handshake verified is passed on (Python's ssl asks for one only with a
clientCA or an auth-tls-secret, and verifies what it gets), and only when it was verified for this
route: a connection opened for another host with auth-tls CAs carries nothing here. The client's
own headers of these names are removed in every case, whatever it presented. Python's ssl gives
the leaf certificate only: Traefik joins a presented chain with ",", here it is the leaf alone.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any
from urllib.parse import quote, quote_plus

from aiohttp.web_response import StreamResponse
from cryptography import x509
from cryptography.x509.oid import NameOID

from ingressctl.model.client_auth import HANDSHAKE_CA_ATTR
from ingressctl.model.client_cert_headers import (
    NGINX_CERT_HEADER,
    TRAEFIK_CERT_HEADER,
    TRAEFIK_INFOS_HEADER,
    InfoFields,
    NameFields,
)
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_client_cert_headers import ClientCertHeadersSpec

_CACHE_ATTR = "ingressctl_client_cert_headers"  # per connection: (der, parsed certificate)
# A backend behind a CGI/WSGI gateway reads "ssl_client_cert" as "ssl-client-cert": both removed.
_DC = x509.ObjectIdentifier("0.9.2342.19200300.100.1.25")


class ClientCertHeaders:
    __slots__ = ("_ca_id", "_infos", "_nginx", "_remove", "_traefik_pem")

    name = ClientCertHeadersSpec.name

    def __init__(self, spec: ClientCertHeadersSpec) -> None:
        headers = spec.headers
        self._ca_id = spec.ca_id or None
        self._traefik_pem = headers.traefik_pem
        self._infos = headers.traefik_infos
        self._nginx = headers.nginx_pem
        names = headers.header_names()
        self._remove = tuple(dict.fromkeys((*names, *(n.replace("-", "_") for n in names))))

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        for name in self._remove:
            exchange.remove_upstream_header(name)
        transport = exchange.request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        if not der or getattr(ssl_object, HANDSHAKE_CA_ATTR, None) != self._ca_id:
            return None
        certificate = _parsed(ssl_object, der)
        if self._traefik_pem:
            exchange.set_upstream_header(TRAEFIK_CERT_HEADER, traefik_pem(der))
        if self._infos is not None:
            exchange.set_upstream_header(TRAEFIK_INFOS_HEADER, traefik_infos(certificate, self._infos))
        if self._nginx:
            exchange.set_upstream_header(NGINX_CERT_HEADER, nginx_escaped_cert(der))
        return None


def _parsed(ssl_object: Any, der: bytes) -> x509.Certificate:
    """The connection's client certificate, parsed once per connection."""
    cached = getattr(ssl_object, _CACHE_ATTR, None)
    if cached is not None and cached[0] == der:
        return cached[1]  # type: ignore[no-any-return]
    certificate = x509.load_der_x509_certificate(der)
    with contextlib.suppress(AttributeError):
        setattr(ssl_object, _CACHE_ATTR, (der, certificate))
    return certificate


def traefik_pem(der: bytes) -> str:
    """Traefik's X-Forwarded-Tls-Client-Cert: the PEM without BEGIN/END lines and line breaks,
    escaped as Go's url.QueryEscape does."""
    body = "".join(ssl.DER_cert_to_PEM_cert(der).splitlines()[1:-1])
    return quote_plus(body, safe="")


def nginx_escaped_cert(der: bytes) -> str:
    """nginx's $ssl_client_escaped_cert: the whole PEM, every byte but A-Za-z0-9-._~ as %XX."""
    return quote(ssl.DER_cert_to_PEM_cert(der), safe="")


def _name_text(prefix: str, fields: NameFields | None, name: x509.Name) -> str:
    if fields is None:
        return ""

    def values(oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in name.get_attributes_for_oid(oid)]

    parts: list[str] = []
    if fields.domain_component:
        parts += [f"DC={v}" for v in values(_DC)]
    for on, label, oid in (
        (fields.country, "C", NameOID.COUNTRY_NAME),
        (fields.province, "ST", NameOID.STATE_OR_PROVINCE_NAME),
        (fields.locality, "L", NameOID.LOCALITY_NAME),
        (fields.organization, "O", NameOID.ORGANIZATION_NAME),
    ):
        if on:
            parts += [f"{label}={v}" for v in values(oid) if v]
    # Go's pkix.Name keeps one serial number and one common name: the last of each.
    for on, label, oid in (
        (fields.serial_number, "SN", NameOID.SERIAL_NUMBER),
        (fields.common_name, "CN", NameOID.COMMON_NAME),
    ):
        found = values(oid)
        if on and found and found[-1]:
            parts.append(f"{label}={found[-1]}")
    return f'{prefix}="{",".join(parts)}"' if parts else ""


def _sans(certificate: x509.Certificate) -> list[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    # Go's order: DNS names, e-mail addresses, IP addresses, URIs.
    return [
        *names.get_values_for_type(x509.DNSName),
        *names.get_values_for_type(x509.RFC822Name),
        *(str(ip) for ip in names.get_values_for_type(x509.IPAddress)),
        *names.get_values_for_type(x509.UniformResourceIdentifier),
    ]


def traefik_infos(certificate: x509.Certificate, infos: InfoFields) -> str:
    """Traefik 1.7's X-Forwarded-Tls-Client-Cert-Infos, e.g. (before escaping)
    Subject="C=FR,CN=alice",NB=1531900816,NA=1563436816,SAN=alice.test,10.0.1.2"""
    values = [
        text
        for text in (
            _name_text("Subject", infos.subject, certificate.subject),
            _name_text("Issuer", infos.issuer, certificate.issuer),
        )
        if text
    ]
    if infos.not_before:
        values.append(f"NB={int(certificate.not_valid_before_utc.timestamp())}")
    if infos.not_after:
        values.append(f"NA={int(certificate.not_valid_after_utc.timestamp())}")
    if infos.sans:
        values.append("SAN=" + ",".join(_sans(certificate)))
    return quote_plus(",".join(values), safe="")
