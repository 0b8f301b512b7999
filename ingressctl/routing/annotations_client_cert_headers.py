"""Annotations that pass the client's TLS certificate on to the backend, parsed into
`ClientCertHeaders`: Traefik 1.7's pass-tls-cert and pass-client-tls-cert (both prefixes Traefik
1.7 reads) and ingress-nginx's auth-tls-pass-certificate-to-upstream.

A backend may decide who the client is from these headers, so a value that cannot be read is an
error at its line and the routes of the Ingress answer 503: never a backend guessing from a
header that is missing, or that the client wrote itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.model import Diagnostic, Ingress
from ingressctl.model.client_cert_header_names import (
    NGINX_CERT_HEADER,
    TRAEFIK_CERT_HEADER,
    TRAEFIK_INFOS_HEADER,
)
from ingressctl.routing.annotation_values import ClientCertificateFindings, parse_boolean

if TYPE_CHECKING:  # built from the first Ingress with such an annotation (validate start-up, issue 18)
    from ingressctl.model.client_cert_headers import ClientCertHeaders, InfoFields, NameFields

T1 = "ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"

PASS_TLS_CERT = (TRAEFIK + "pass-tls-cert", T1 + "pass-tls-cert", "traefik.frontend.passTLSCert")
PASS_CLIENT_TLS_CERT = (TRAEFIK + "pass-client-tls-cert", T1 + "pass-client-tls-cert")
NGINX_PASS = NGINX + "auth-tls-pass-certificate-to-upstream"

_PEM_TEXT = (
    f"the certificate the client presented in the TLS handshake (verified against the entrypoint's "
    f"clientCA or the host's auth-tls-secret CAs) goes to the backend in {TRAEFIK_CERT_HEADER}: the PEM "
    "without its BEGIN/END lines and line breaks, URL-escaped. A header of that name sent by the client "
    "is always removed. Not a boolean: 503."
)
KNOWN: dict[str, str] = {
    PASS_TLS_CERT[0]: f'"true" (Traefik 1.7; deprecated there for pass-client-tls-cert): {_PEM_TEXT}',
    PASS_TLS_CERT[1]: f"Same as {PASS_TLS_CERT[0]}.",
    PASS_TLS_CERT[2]: f"Same as {PASS_TLS_CERT[0]} (Traefik 1.x label spelling).",
    PASS_CLIENT_TLS_CERT[0]: "Traefik 1.7 (YAML): `pem: true` passes the certificate in "
    f"{TRAEFIK_CERT_HEADER} as pass-tls-cert does; `infos:` with notbefore, notafter, sans and subject / "
    "issuer (country, province, locality, organization, commonname, serialnumber, domaincomponent) "
    f'passes those fields in {TRAEFIK_INFOS_HEADER}, URL-escaped, as Traefik formats them (Subject="C=..,'
    "CN=..\",NB=unix,NA=unix,SAN=dns,email,ip,uri). The client's own headers of these names are removed. "
    "A value that cannot be read: 503.",
    PASS_CLIENT_TLS_CERT[1]: f"Same as {PASS_CLIENT_TLS_CERT[0]}.",
    NGINX_PASS: f'"true": the client certificate goes to the backend in the {NGINX_CERT_HEADER} header, '
    "the PEM URL-encoded (nginx's $ssl_client_escaped_cert); a header of that name sent by the client is "
    "always removed. Not a boolean: 503.",
}

_NAME_KEYS = {
    "domaincomponent": "domain_component",
    "country": "country",
    "province": "province",
    "locality": "locality",
    "organization": "organization",
    "serialnumber": "serial_number",
    "commonname": "common_name",
}
_INFO_FLAGS = {"notbefore": "not_before", "notafter": "not_after", "sans": "sans"}
_HINT_YAML = (
    "Write YAML as Traefik 1.7 documents it, e.g. 'pem: true' and 'infos:' with 'notafter: true', "
    "'sans: true', 'subject:' with 'commonname: true'."
)


class _Invalid(ValueError):
    """A value that cannot be read; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ParsedClientCertHeaders:
    """The headers that pass the client certificate on, or why they cannot."""

    headers: ClientCertHeaders | None = None
    error: str = ""  # set: every route of the Ingress answers 503


def _boolean(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    parsed = parse_boolean(value, lenient=True) if isinstance(value, str) else None
    if parsed is not None:
        return parsed
    prefix = f"{where}: " if where else ""
    raise _Invalid(f"{prefix}{value!r} is not true or false")


def _mapping(value: object, where: str, allowed: set[str]) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"{where} is not a YAML mapping")
    fields = {str(k).lower(): v for k, v in value.items()}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise _Invalid(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    return fields


def _name_fields(value: object, where: str) -> NameFields | None:
    fields = _mapping(value, where, set(_NAME_KEYS))
    chosen = {_NAME_KEYS[k]: _boolean(v, f"{where}.{k}") for k, v in fields.items()}
    from ingressctl.model.client_cert_headers import NameFields

    return NameFields(**chosen) if any(chosen.values()) else None


def parse_pass_client_tls_cert(raw: str) -> tuple[bool, InfoFields | None]:
    """(pem, infos) of a pass-client-tls-cert value; raises _Invalid."""
    import yaml  # only this annotation needs PyYAML; validate starts without it

    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise _Invalid(f"not YAML ({str(exc).splitlines()[0]})") from None
    fields = _mapping(doc, "the value", {"pem", "infos"})
    if not isinstance(doc, dict):
        raise _Invalid("not a YAML mapping")
    pem = _boolean(fields["pem"], "pem") if "pem" in fields else False
    if "infos" not in fields:
        return pem, None
    infos = _mapping(fields["infos"], "infos", {*_INFO_FLAGS, "subject", "issuer"})
    flags = {_INFO_FLAGS[k]: _boolean(v, f"infos.{k}") for k, v in infos.items() if k in _INFO_FLAGS}
    subject = _name_fields(infos.get("subject"), "infos.subject")
    issuer = _name_fields(infos.get("issuer"), "infos.issuer")
    if not any(flags.values()) and subject is None and issuer is None:
        return pem, None
    from ingressctl.model.client_cert_headers import InfoFields

    return pem, InfoFields(subject=subject, issuer=issuer, **flags)


ENABLE_PASS_TLS_CERT = "[kubernetes] enablePassTLSCert"


def parse_client_cert_headers(
    ingress: Ingress, pass_by_default: bool = False
) -> tuple[ParsedClientCertHeaders, list[Diagnostic]]:
    """`pass_by_default`: Traefik 1.7's enablePassTLSCert, pass-tls-cert for an Ingress that
    sets none of the Traefik spellings (its own "false" still wins)."""
    annotations = ingress.meta.annotations
    given = [key for key in KNOWN if key in annotations]
    if pass_by_default and not any(key in annotations for key in (*PASS_TLS_CERT, *PASS_CLIENT_TLS_CERT)):
        given.append(ENABLE_PASS_TLS_CERT)
    if not given:
        return ParsedClientCertHeaders(), []
    findings = ClientCertificateFindings(ingress)
    diagnostics, errors, report = findings.diagnostics, findings.errors, findings.report

    traefik_pem = False
    infos: InfoFields | None = None
    traefik = False
    nginx_pem = False
    for key in given:
        raw = annotations.get(key, "true")  # only enablePassTLSCert is not an annotation
        try:
            if key in PASS_TLS_CERT or key == ENABLE_PASS_TLS_CERT:
                traefik = True
                traefik_pem = _boolean(raw, "") or traefik_pem
            elif key in PASS_CLIENT_TLS_CERT:
                traefik = True
                pem, found = parse_pass_client_tls_cert(raw)
                traefik_pem = traefik_pem or pem
                infos = found or infos
            else:
                nginx_pem = _boolean(raw, "")
        except _Invalid as exc:
            hint = _HINT_YAML if key in PASS_CLIENT_TLS_CERT else 'Write "true" or "false".'
            report(key, str(exc), hint)
    if errors:
        return ParsedClientCertHeaders(error="; ".join(errors)), diagnostics
    if not (traefik or nginx_pem):
        return ParsedClientCertHeaders(), diagnostics
    from ingressctl.model.client_cert_headers import ClientCertHeaders

    headers = ClientCertHeaders(
        traefik_pem=traefik_pem,
        traefik_infos=infos,
        traefik=traefik,
        nginx_pem=nginx_pem,
        annotations=tuple(given),
    )
    return ParsedClientCertHeaders(headers=headers), diagnostics


# Values read as YAML: line breaks in them are structure, not injections (routing/annotations.py).
MULTI_LINE = frozenset(PASS_CLIENT_TLS_CERT)
