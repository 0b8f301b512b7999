"""client-certificate (ingress-nginx auth-tls-*): the handshake verified the certificate against the
host's CAs (ingressctl/tls/client_auth.py); here the route checks that it did, for its own CAs.

- no certificate: 400 when required (ingress-nginx's answer), else through;
- a certificate verified for other CAs (another host's, or the entrypoint's clientCA; a connection
  reused for another Host): 403;
- auth-tls-verify-depth: the certificate's issuer is a CA of the route at most depth + 1 levels below
  a root of its Secret (OpenSSL's count; routing/annotations_client_auth.py says why the Secret's
  chain, not the client's, is counted); else 403.
A refused client is redirected (302) to auth-tls-error-page when one is set.

A request let through carries what ingress-nginx tells the backend on every auth-tls route:
ssl-client-verify (SUCCESS or NONE), ssl-client-subject-dn and ssl-client-issuer-dn (RFC 4514, as
nginx's $ssl_client_s_dn). Copies the client sent itself are always removed first: a backend that
trusts these headers must never read a forged subject.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp.web_response import StreamResponse
from cryptography import x509

from ingressctl.model.client_auth import HANDSHAKE_CA_ATTR
from ingressctl.proxy.answers import error
from ingressctl.proxy.exchange import Exchange
from ingressctl.routing.chain_client_auth import ClientCertSpec

_ISSUER_ATTR = "ingressctl_client_issuer"
_SUBJECT_ATTR = "ingressctl_client_subject"
VERIFY_HEADER = "ssl-client-verify"
SUBJECT_HEADER = "ssl-client-subject-dn"
ISSUER_HEADER = "ssl-client-issuer-dn"
# A backend behind a CGI/WSGI gateway reads "ssl_client_verify" as "ssl-client-verify": removed too.
_FORGEABLE = tuple(
    spelling
    for name in (VERIFY_HEADER, SUBJECT_HEADER, ISSUER_HEADER)
    for spelling in (name, name.replace("-", "_"))
)


class ClientCertificate:
    __slots__ = ("_auth", "_ca_id", "_deepest", "_levels")

    name = ClientCertSpec.name

    def __init__(self, spec: ClientCertSpec) -> None:
        self._auth = spec.auth
        self._ca_id = spec.auth.ca_id
        auth = spec.auth
        self._levels = dict(auth.ca_levels) if auth.ca_levels else dict.fromkeys(auth.ca_subjects, 1)
        self._deepest = auth.depth + 1  # the root's level at most (OpenSSL: depth + 1 levels above the leaf)

    async def handle(self, exchange: Exchange) -> StreamResponse | None:
        transport = exchange.request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        certificate = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        for name in _FORGEABLE:
            exchange.remove_upstream_header(name)
        if not certificate:
            if self._auth.required:
                return self._refuse(400, "Bad Request: no required SSL certificate was sent")
            exchange.set_upstream_header(VERIFY_HEADER, "NONE")
            return None
        if getattr(ssl_object, HANDSHAKE_CA_ATTR, None) != self._ca_id:
            return self._refuse(403, "Forbidden: the client certificate was not verified for this host")
        issuer = _issuer(ssl_object, certificate)
        level = self._levels.get(issuer)
        if level is None:
            return self._refuse(403, "Forbidden: the client certificate is not issued by the host's CA")
        if level > self._deepest:
            return self._refuse(403, "Forbidden: the client certificate's chain is deeper than allowed")
        exchange.set_upstream_header(VERIFY_HEADER, "SUCCESS")
        exchange.set_upstream_header(SUBJECT_HEADER, _subject(ssl_object, certificate))
        exchange.set_upstream_header(ISSUER_HEADER, issuer)
        return None

    def _refuse(self, status: int, text: str) -> StreamResponse:
        page = self._auth.error_page
        if page:
            return error(302, "Found", {"Location": page})
        return error(status, text)


def _issuer(ssl_object: Any, der: bytes) -> str:
    """The issuer of the connection's client certificate, parsed once per connection."""
    issuer = getattr(ssl_object, _ISSUER_ATTR, None)
    if issuer is None:
        issuer = x509.load_der_x509_certificate(der).issuer.rfc4514_string()
        with contextlib.suppress(AttributeError):
            setattr(ssl_object, _ISSUER_ATTR, issuer)
    return str(issuer)


def _subject(ssl_object: Any, der: bytes) -> str:
    """The subject of the connection's client certificate, parsed once per connection."""
    subject = getattr(ssl_object, _SUBJECT_ATTR, None)
    if subject is None:
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        with contextlib.suppress(AttributeError):
            setattr(ssl_object, _SUBJECT_ATTR, subject)
    return str(subject)
