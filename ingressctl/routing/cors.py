"""ingress-nginx CORS annotations: `enable-cors` and `cors-allow-origin`, `-methods`, `-headers`,
`-credentials`, `-max-age`, `-expose-headers`, with ingress-nginx's defaults (annotations page,
"Enable CORS"). One implementation (proxy/middlewares/cors.py); bad values are warnings and the
default is used, as ingress-nginx does."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingressctl.model import Diagnostic, Ingress, Severity
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding

if TYPE_CHECKING:
    from ingressctl.model.cors import CorsPolicy

NGINX = "nginx.ingress.kubernetes.io/"
ENABLE = NGINX + "enable-cors"
ORIGIN = NGINX + "cors-allow-origin"
METHODS = NGINX + "cors-allow-methods"
HEADERS = NGINX + "cors-allow-headers"
CREDENTIALS = NGINX + "cors-allow-credentials"
MAX_AGE = NGINX + "cors-max-age"
EXPOSE = NGINX + "cors-expose-headers"

KNOWN: dict[str, str] = {
    ENABLE: "true: answer CORS preflight requests (OPTIONS, 204) and add CORS headers to answers "
    "(as ingress-nginx).",
    ORIGIN: 'Comma-separated allowed origins, e.g. "https://a.example, https://*.example.com"; default *.',
    METHODS: "Access-Control-Allow-Methods; default GET, PUT, POST, DELETE, PATCH, OPTIONS.",
    HEADERS: "Access-Control-Allow-Headers; default DNT,Keep-Alive,User-Agent,X-Requested-With,"
    "If-Modified-Since,Cache-Control,Content-Type,Range,Authorization.",
    CREDENTIALS: "Access-Control-Allow-Credentials; default true.",
    MAX_AGE: "Access-Control-Max-Age of preflight answers, in seconds; default 1728000.",
    EXPOSE: "Access-Control-Expose-Headers; default none.",
}

_ORIGIN = re.compile(r"^(\*|[a-z][a-z0-9+.-]*://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?)$")
_TOKEN_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")


def parse_cors(ingress: Ingress) -> tuple[CorsPolicy | None, list[Diagnostic]]:
    annotations = ingress.meta.annotations
    raw = annotations.get(ENABLE)
    if raw is None or raw.strip().lower() not in ("true", "1", "t"):
        return None, []
    from ingressctl.model.cors import CorsPolicy  # with the first Ingress that enables it (issue 18)

    found: list[Diagnostic] = []
    default = CorsPolicy()
    origins = default.allow_origins
    if ORIGIN in annotations:
        items = tuple(o.strip() for o in annotations[ORIGIN].split(",") if o.strip())
        wrong = [o for o in items if not _ORIGIN.match(o)]
        if not items or wrong:
            found.append(
                _bad(ingress, ORIGIN, f"{', '.join(wrong) or '(empty)'} is not an origin; * is used")
            )
        else:
            origins = items
    methods = _token_list(ingress, METHODS, default.allow_methods, found)
    headers = _token_list(ingress, HEADERS, default.allow_headers, found)
    expose = _token_list(ingress, EXPOSE, default.expose_headers, found)
    credentials = default.allow_credentials
    if CREDENTIALS in annotations:
        text = annotations[CREDENTIALS].strip().lower()
        if text in ("true", "false"):
            credentials = text == "true"
        else:
            found.append(
                _bad(ingress, CREDENTIALS, f"{annotations[CREDENTIALS]!r} is not true or false; true is used")
            )
    max_age = default.max_age
    if MAX_AGE in annotations:
        try:
            max_age = int(annotations[MAX_AGE].strip())
            if max_age < 0:
                raise ValueError
        except ValueError:
            found.append(
                _bad(
                    ingress, MAX_AGE, f"{annotations[MAX_AGE]!r} is not a number of seconds; 1728000 is used"
                )
            )
            max_age = default.max_age
    return CorsPolicy(origins, methods, headers, expose, credentials, max_age), found


def _token_list(ingress: Ingress, key: str, default: str, found: list[Diagnostic]) -> str:
    raw = ingress.meta.annotations.get(key)
    if raw is None:
        return default
    value = raw.strip()
    if value and not _TOKEN_LIST.match(value):
        found.append(
            _bad(ingress, key, f"{raw!r} is not a comma-separated list of names; the default is used")
        )
        return default
    return value


def _bad(ingress: Ingress, key: str, message: str) -> Diagnostic:
    return finding(
        codes.BAD_ANNOTATION,
        Severity.WARNING,
        ingress,
        f"annotation {key}: {message}",
        "See ingress-nginx's annotations page, Enable CORS, for the value's form.",
        annotation_location(ingress, key),
    )
