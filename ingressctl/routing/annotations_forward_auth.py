"""Forward auth (Traefik 1.7 `auth-type: forward` and ingress-nginx `auth-url`) and what the
backend learns about the authenticated user (auth-header-field, auth-remove-header)."""

from __future__ import annotations

import re

from ingressctl.model.access import AuthStyle, ForwardAuth
from ingressctl.routing.access_keys import (
    AUTH_HEADER_FIELD,
    AUTH_REMOVE_HEADER,
    AUTH_RESPONSE_HEADERS,
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
        for key in (AUTH_URL, AUTH_RESPONSE_HEADERS, AUTH_TRUST_HEADERS):
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
    if url is None or headers is None:
        return None
    return ForwardAuth(
        url=url, style=AuthStyle.TRAEFIK, response_headers=headers, trust_forward_headers=bool(trust)
    )


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
