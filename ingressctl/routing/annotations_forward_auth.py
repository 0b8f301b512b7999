"""Forward auth (Traefik 1.7 `auth-type: forward` and ingress-nginx `auth-url`) and what the
backend learns about the authenticated user (auth-header-field, auth-remove-header)."""

from __future__ import annotations

import re
from typing import Literal

from ingressctl.model import Severity
from ingressctl.model.access import AuthStyle, ForwardAuth
from ingressctl.model.upstream_protocol import BackendTLS
from ingressctl.routing.access_keys import (
    AUTH_HEADER_FIELD,
    AUTH_REMOVE_HEADER,
    AUTH_RESPONSE_HEADERS,
    AUTH_TLS_INSECURE,
    AUTH_TLS_SECRET,
    AUTH_TRUST_HEADERS,
    AUTH_TYPE,
    AUTH_URL,
    NGINX_AUTH_METHOD,
    NGINX_AUTH_REQUEST_REDIRECT,
    NGINX_AUTH_RESPONSE_HEADERS,
    NGINX_AUTH_SIGNIN,
    NGINX_AUTH_SIGNIN_PARAM,
    NGINX_AUTH_URL,
)
from ingressctl.routing.access_reader import AccessReader
from ingressctl.routing.annotation_values import HEADER_NAME


def forward_auth(r: AccessReader) -> ForwardAuth | None:
    traefik = _traefik_forward_auth(r)
    nginx = _nginx_forward_auth(r)
    if traefik is not None and nginx is not None:
        r.warn(
            NGINX_AUTH_URL,
            "both Traefik's and ingress-nginx's forward auth are set; Traefik's is used",
            "Keep one of the two spellings.",
        )
    return traefik or nginx


def _traefik_forward_auth(r: AccessReader) -> ForwardAuth | None:
    auth_type = (r.get(AUTH_TYPE) or "").strip().lower()
    if auth_type != "forward":
        for key in (AUTH_URL, AUTH_RESPONSE_HEADERS, AUTH_TRUST_HEADERS, AUTH_TLS_SECRET, AUTH_TLS_INSECURE):
            if key in r.values:
                r.invalid(
                    key,
                    f"is set but {AUTH_TYPE} is not 'forward'",
                    f"Set {AUTH_TYPE}: forward, or remove {key}.",
                )
        return None
    if AUTH_URL not in r.values:
        r.invalid(AUTH_TYPE, f"auth-type forward needs {AUTH_URL}", f"Add {AUTH_URL}.")
        return None
    url = r.url(AUTH_URL)
    headers = r.header_names(AUTH_RESPONSE_HEADERS)
    trust = r.boolean(AUTH_TRUST_HEADERS)
    tls = _forward_tls(r, url)
    if url is None or headers is None or tls is False:
        return None
    return ForwardAuth(
        url=url,
        style=AuthStyle.TRAEFIK,
        response_headers=headers,
        trust_forward_headers=bool(trust),
        tls=tls,
    )


def _forward_tls(r: AccessReader, url: str | None) -> BackendTLS | Literal[False] | None:
    """The TLS settings towards the auth service (None: the defaults); False when they cannot be
    honoured (the routes then answer 503)."""
    insecure = r.boolean(AUTH_TLS_INSECURE)
    secret_name = r.text(AUTH_TLS_SECRET)
    if insecure is None and secret_name is None:
        return None
    if url is not None and not url.startswith("https://"):
        given = AUTH_TLS_SECRET if secret_name is not None else AUTH_TLS_INSECURE
        r.warn(given, "has no effect: auth-url is not an https URL", "Use an https auth-url, or remove it.")
        return None
    cert = key = b""
    source = ""
    if secret_name is not None:
        ns = r.ingress.meta.namespace
        source = f"Secret {ns}/{secret_name}"
        secret = r.lookup_secret(ns, secret_name) if secret_name else None
        if secret is None and secret_name and not r.secrets_in_input:
            r.failures.append(("forward-auth", f"{AUTH_TLS_SECRET}: {source} is not part of the input"))
            r.report(
                AUTH_TLS_SECRET,
                f"{source} is not part of the input; if the cluster lacks it, every route of this Ingress "
                "answers 503",
                "Pass the Secret manifest too.",
                Severity.INFO,
            )
            return False
        problem = "names no Secret" if secret is None and not secret_name else ""
        if secret is None and not problem:
            problem = f"{source} does not exist"
        elif secret is not None:
            cert, key = secret.data.get("tls.crt", b""), secret.data.get("tls.key", b"")
            problem = client_pair_problem(cert, key)
            problem = f"{source} {problem}" if problem else ""
        if problem:
            r.invalid(AUTH_TLS_SECRET, problem, "Name a kubernetes.io/tls Secret with tls.crt and tls.key.")
            return False
    return BackendTLS(
        verify=not insecure, client_cert_pem=cert, client_key_pem=key, source=source or AUTH_TLS_INSECURE
    )


def client_pair_problem(cert: bytes, key: bytes) -> str:
    """Why tls.crt and tls.key are not a usable client certificate, or ""."""
    if not cert or not key:
        return "needs both tls.crt and tls.key"
    from cryptography import x509  # only this annotation needs it at compile time
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificates(cert)[0]
    except ValueError:
        return "tls.crt is not a PEM certificate"
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):
        return "tls.key is not an unencrypted PEM private key"
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private.public_key().public_bytes(der, raw) != certificate.public_key().public_bytes(der, raw):
        return "tls.key does not belong to the certificate of tls.crt"
    return ""


def _nginx_forward_auth(r: AccessReader) -> ForwardAuth | None:
    companions = (
        NGINX_AUTH_METHOD,
        NGINX_AUTH_SIGNIN,
        NGINX_AUTH_SIGNIN_PARAM,
        NGINX_AUTH_RESPONSE_HEADERS,
        NGINX_AUTH_REQUEST_REDIRECT,
    )
    if NGINX_AUTH_URL not in r.values:
        for key in companions:
            if key in r.values:
                r.warn(key, f"has no effect without {NGINX_AUTH_URL}", f"Add {NGINX_AUTH_URL}.")
        return None
    url = r.url(NGINX_AUTH_URL, variables=True)
    method = (r.get(NGINX_AUTH_METHOD) or "GET").strip().upper()
    if not HEADER_NAME.match(method):
        r.invalid(NGINX_AUTH_METHOD, f"{method!r} is not an HTTP method", "Write e.g. GET.")
        method = ""
    signin: str | None = ""
    if NGINX_AUTH_SIGNIN in r.values:
        signin = r.url(NGINX_AUTH_SIGNIN, relative_ok=True, variables=True)
    param = (r.get(NGINX_AUTH_SIGNIN_PARAM) or "rd").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.~-]+", param):
        r.invalid(NGINX_AUTH_SIGNIN_PARAM, f"{param!r} is not a parameter name", "Write e.g. rd.")
        param = ""
    headers = r.header_names(NGINX_AUTH_RESPONSE_HEADERS)
    redirect = (r.get(NGINX_AUTH_REQUEST_REDIRECT) or "").strip()
    if url is None or signin is None or headers is None or not method or not param:
        return None
    return ForwardAuth(
        url=url,
        style=AuthStyle.NGINX,
        method=method,
        response_headers=headers,
        trust_forward_headers=False,
        signin=signin,
        signin_param=param,
        request_redirect=redirect,
    )


def auth_forwarding(r: AccessReader) -> tuple[str, bool]:
    """(header carrying the authenticated user, whether Authorization is removed)."""
    field_name = ""
    raw = r.get(AUTH_HEADER_FIELD)
    if raw is not None:
        field_name = raw.strip()
        if not HEADER_NAME.match(field_name):
            r.invalid(
                AUTH_HEADER_FIELD,
                f"{raw!r} is not a header name",
                "Write a header name, e.g. X-WebAuth-User.",
            )
            field_name = ""
    remove = r.boolean(AUTH_REMOVE_HEADER)
    return field_name, bool(remove)
