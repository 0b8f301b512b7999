"""Access control and traffic limit annotations: forward auth, deny-lists, the X-Forwarded-For
allow-list, ingress-nginx basic auth, rate limits and in-flight limits (Traefik 1.7 and
ingress-nginx spellings; one implementation each, see ingressctl.model.access).

Every value protects something: a value that cannot be honoured is an error at its line and the
routes of the Ingress answer 503 (a `fail-closed` stage in the chain), never served without it.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingressctl.model import BasicAuth, Diagnostic, Ingress, Secret, Severity
from ingressctl.model.access import (
    NGINX_URL_VARIABLES,
    AccessControls,
    AuthStyle,
    ForwardAuth,
    InFlightLimit,
    RateLimit,
    RateSet,
    SourceKey,
    SourceKind,
)
from ingressctl.routing import codes
from ingressctl.routing.report import annotation_location, finding

T1 = "ingress.kubernetes.io/"
TRAEFIK = "traefik.ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"

AUTH_TYPE = T1 + "auth-type"
AUTH_URL = T1 + "auth-url"
AUTH_RESPONSE_HEADERS = T1 + "auth-response-headers"
AUTH_TRUST_HEADERS = T1 + "auth-trust-headers"
AUTH_HEADER_FIELD = T1 + "auth-header-field"
AUTH_REMOVE_HEADER = T1 + "auth-remove-header"
WHITELIST_XFF = T1 + "whitelist-x-forwarded-for"
TRAEFIK_WHITELIST_XFF = TRAEFIK + "whitelist-x-forwarded-for"
RATE_LIMIT = TRAEFIK + "rate-limit"

NGINX_AUTH_URL = NGINX + "auth-url"
NGINX_AUTH_METHOD = NGINX + "auth-method"
NGINX_AUTH_SIGNIN = NGINX + "auth-signin"
NGINX_AUTH_SIGNIN_PARAM = NGINX + "auth-signin-redirect-param"
NGINX_AUTH_RESPONSE_HEADERS = NGINX + "auth-response-headers"
NGINX_AUTH_REQUEST_REDIRECT = NGINX + "auth-request-redirect"
NGINX_AUTH_TYPE = NGINX + "auth-type"
NGINX_AUTH_SECRET = NGINX + "auth-secret"
NGINX_AUTH_SECRET_TYPE = NGINX + "auth-secret-type"
NGINX_AUTH_REALM = NGINX + "auth-realm"
NGINX_WHITELIST = NGINX + "whitelist-source-range"
NGINX_ALLOWLIST = NGINX + "allowlist-source-range"
NGINX_DENYLIST = NGINX + "denylist-source-range"
NGINX_LIMIT_RPS = NGINX + "limit-rps"
NGINX_LIMIT_RPM = NGINX + "limit-rpm"
NGINX_LIMIT_BURST = NGINX + "limit-burst-multiplier"
NGINX_LIMIT_CONNECTIONS = NGINX + "limit-connections"
NGINX_LIMIT_WHITELIST = NGINX + "limit-whitelist"

# The allow-list keys of ingress-nginx join the existing allow-list (routing/annotations.py).
NGINX_ALLOW_KEYS = (NGINX_WHITELIST, NGINX_ALLOWLIST)
ALLOW_LIST_KEYS = (T1 + "whitelist-source-range", TRAEFIK + "whitelist-source-range", *NGINX_ALLOW_KEYS)

KNOWN_ACCESS: dict[str, str] = {
    AUTH_URL: "With auth-type 'forward': URL of the forward-auth service. A 2xx answer lets the request "
    "through; any other answer goes back to the client as it is; no answer (down, timeout) is a 503.",
    AUTH_RESPONSE_HEADERS: "With auth-type 'forward': comma-separated headers copied from the auth "
    "service's answer onto the request sent to the backend.",
    AUTH_TRUST_HEADERS: "With auth-type 'forward': true passes the client's X-Forwarded-* headers to the "
    "auth service; false (default) sends the proxy's own.",
    AUTH_HEADER_FIELD: "Header that carries the authenticated (basic-auth) user to the backend, e.g. "
    "X-WebAuth-User.",
    AUTH_REMOVE_HEADER: "true: the Authorization header is removed before the request goes to the backend.",
    WHITELIST_XFF: "true: the source allow-list judges the client address a trusted proxy "
    "(forwardedHeaders.trustedIPs) put in X-Forwarded-For (the rightmost untrusted one), not the proxy's "
    "own address.",
    TRAEFIK_WHITELIST_XFF: "Same as ingress.kubernetes.io/whitelist-x-forwarded-for.",
    RATE_LIMIT: "Traefik 1.7 rate limit (YAML): extractorFunc client.ip, request.host or "
    "request.header.NAME, and rateset entries with period, average and burst. Token buckets per source; "
    "beyond the rate: 429 with Retry-After.",
    NGINX_AUTH_URL: "ingress-nginx forward auth: 2xx lets the request through, 401 and 403 go back to the "
    "client (401 redirects to auth-signin when set), other answers are 500; no answer is a 503.",
    NGINX_AUTH_METHOD: "HTTP method of the auth request (default GET).",
    NGINX_AUTH_SIGNIN: "Where a 401 of the auth service redirects the browser (302), with the original "
    "URL in the rd parameter.",
    NGINX_AUTH_SIGNIN_PARAM: "Name of the auth-signin parameter that carries the original URL (default rd).",
    NGINX_AUTH_RESPONSE_HEADERS: "Comma-separated headers copied from the auth answer onto the request "
    "sent to the backend.",
    NGINX_AUTH_REQUEST_REDIRECT: "Value of X-Auth-Request-Redirect sent to the auth service (default: the "
    "request URI).",
    NGINX_AUTH_TYPE: "basic (htpasswd users from auth-secret); digest is not supported and fails closed "
    "(503).",
    NGINX_AUTH_SECRET: "Secret (name or namespace/name) holding the basic-auth users.",
    NGINX_AUTH_SECRET_TYPE: "auth-file (default: key 'auth' holds htpasswd lines) or auth-map (each key "
    "is a user, its value the hash).",
    NGINX_AUTH_REALM: "Realm shown in the basic-auth prompt.",
    NGINX_WHITELIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    NGINX_ALLOWLIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    NGINX_DENYLIST: "Comma-separated CIDRs refused (403) before any other check.",
    NGINX_LIMIT_RPS: "Requests per second per client address; bursts of rps x limit-burst-multiplier; "
    "beyond: 503 (ingress-nginx's default status).",
    NGINX_LIMIT_RPM: "Requests per minute per client address; bursts of rpm x limit-burst-multiplier; "
    "beyond: 503.",
    NGINX_LIMIT_BURST: "Burst size as a multiple of limit-rps/limit-rpm (default 5).",
    NGINX_LIMIT_CONNECTIONS: "Requests in progress at once per client address; beyond: 503.",
    NGINX_LIMIT_WHITELIST: "Comma-separated CIDRs exempt from limit-rps, limit-rpm and limit-connections.",
}

MULTI_LINE_ACCESS = frozenset(
    {RATE_LIMIT, NGINX_DENYLIST, NGINX_LIMIT_WHITELIST, NGINX_WHITELIST, NGINX_ALLOWLIST}
)

_TRUE = frozenset({"1", "t", "true", "yes", "on"})
_FALSE = frozenset({"0", "f", "false", "no", "off"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP field name or method (RFC 9110 5.1)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NGINX_BURST_DEFAULT = 5
_TRAEFIK_LIMITED = 429
_NGINX_LIMITED = 503

SecretLookup = Callable[[str, str], Secret | None]


@dataclass(slots=True)
class AccessAnnotations:
    """What this family found on one Ingress."""

    controls: AccessControls = field(default_factory=AccessControls)
    basic_auth: BasicAuth | None = None  # ingress-nginx's spelling of basic auth
    auth_error: str = ""  # nginx basic auth configured but unusable: the routes answer 503
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration ("3s", "1m30s", "500ms") or a plain number of seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) else None
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and text else None


class _AccessParser:
    def __init__(self, ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool) -> None:
        self.ingress = ingress
        self.annotations = ingress.meta.annotations
        self.lookup_secret = lookup_secret
        self.secrets_in_input = secrets_in_input
        self.diagnostics: list[Diagnostic] = []
        self.failures: list[tuple[str, str]] = []

    def fail(self, key: str, guards: str, message: str, hint: str) -> None:
        """A protecting value that cannot be honoured: an error, and the routes answer 503."""
        self.failures.append((guards, f"{key}: {message}"))
        self.diagnostics.append(
            finding(
                codes.BAD_ANNOTATION,
                Severity.ERROR,
                self.ingress,
                f"annotation {key}: {message}; every route of this Ingress answers 503 until it is fixed",
                hint,
                annotation_location(self.ingress, key),
            )
        )

    def warn(self, key: str, message: str, hint: str) -> None:
        self.diagnostics.append(
            finding(
                codes.BAD_ANNOTATION,
                Severity.WARNING,
                self.ingress,
                f"annotation {key}: {message}",
                hint,
                annotation_location(self.ingress, key),
            )
        )

    def get(self, key: str) -> str | None:
        return self.annotations.get(key)

    def boolean(self, key: str, guards: str) -> bool | None:
        raw = self.get(key)
        if raw is None:
            return None
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.fail(key, guards, f"{raw!r} is not a boolean", 'Write "true" or "false".')
        return None

    def header_names(self, key: str, guards: str) -> tuple[str, ...] | None:
        raw = self.get(key)
        if raw is None:
            return ()
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        wrong = [n for n in names if not _TOKEN.match(n)]
        if wrong:
            self.fail(
                key,
                guards,
                f"{', '.join(repr(w) for w in wrong)} is not a header name",
                'Write header names separated by commas, e.g. "X-Auth-User, X-Auth-Email".',
            )
            return None
        return names

    def cidrs(self, key: str, guards: str) -> tuple[str, ...] | None:
        raw = self.get(key)
        if raw is None:
            return ()
        out: list[str] = []
        bad: list[str] = []
        for item in (part.strip() for part in raw.replace("\n", ",").split(",")):
            if not item:
                continue
            try:
                network = ipaddress.ip_network(item, strict=False)
            except ValueError:
                bad.append(item)
                continue
            if str(network) not in out:
                out.append(str(network))
        if bad or not out:
            what = ", ".join(repr(b) for b in bad) if bad else "the list is empty, which"
            self.fail(
                key,
                guards,
                f"{what} is not an IP address or CIDR",
                'Write CIDRs separated by commas, e.g. "10.0.0.0/8, 192.168.1.7".',
            )
            return None
        return tuple(out)

    def url(self, key: str, guards: str, *, relative_ok: bool = False, variables: bool = False) -> str | None:
        raw = self.get(key)
        if raw is None:
            return None
        value = raw.strip()
        if variables:
            unknown = sorted(
                {m.group(1) or m.group(2) for m in _VARIABLE.finditer(value)} - NGINX_URL_VARIABLES
            )
            if unknown:
                self.fail(
                    key,
                    guards,
                    f"nginx variable(s) {', '.join('$' + u for u in unknown)} are not supported",
                    "Use only " + ", ".join("$" + v for v in sorted(NGINX_URL_VARIABLES)) + ".",
                )
                return None
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError:
            parts = None
        ok = parts is not None and (
            (parts.scheme in ("http", "https") and bool(parts.hostname))
            or (relative_ok and not parts.scheme and not parts.netloc and value.startswith("/"))
        )
        if not ok:
            self.fail(
                key,
                guards,
                f"{raw!r} is not an http(s) URL",
                "Write the full URL, e.g. http://auth.auth-system.svc.cluster.local/verify.",
            )
            return None
        return value

    # ------------------------------------------------------------ forward auth

    def forward_auth(self) -> ForwardAuth | None:
        traefik = self.traefik_forward_auth()
        nginx = self.nginx_forward_auth()
        if traefik is not None and nginx is not None:
            self.warn(
                NGINX_AUTH_URL,
                "both Traefik's and ingress-nginx's forward auth are set; Traefik's is used",
                "Keep one of the two spellings.",
            )
        return traefik or nginx

    def traefik_forward_auth(self) -> ForwardAuth | None:
        auth_type = (self.get(AUTH_TYPE) or "").strip().lower()
        if auth_type != "forward":
            for key in (AUTH_URL, AUTH_RESPONSE_HEADERS, AUTH_TRUST_HEADERS):
                if key in self.annotations:
                    self.fail(
                        key,
                        "forward-auth",
                        f"is set but {AUTH_TYPE} is not 'forward'",
                        f"Set {AUTH_TYPE}: forward, or remove {key}.",
                    )
            return None
        if AUTH_URL not in self.annotations:
            self.fail(AUTH_TYPE, "forward-auth", f"auth-type forward needs {AUTH_URL}", f"Add {AUTH_URL}.")
            return None
        url = self.url(AUTH_URL, "forward-auth")
        headers = self.header_names(AUTH_RESPONSE_HEADERS, "forward-auth")
        trust = self.boolean(AUTH_TRUST_HEADERS, "forward-auth")
        if url is None or headers is None:
            return None
        return ForwardAuth(
            url=url, style=AuthStyle.TRAEFIK, response_headers=headers, trust_forward_headers=bool(trust)
        )

    def nginx_forward_auth(self) -> ForwardAuth | None:
        companions = (
            NGINX_AUTH_METHOD,
            NGINX_AUTH_SIGNIN,
            NGINX_AUTH_SIGNIN_PARAM,
            NGINX_AUTH_RESPONSE_HEADERS,
            NGINX_AUTH_REQUEST_REDIRECT,
        )
        if NGINX_AUTH_URL not in self.annotations:
            for key in companions:
                if key in self.annotations:
                    self.warn(key, f"has no effect without {NGINX_AUTH_URL}", f"Add {NGINX_AUTH_URL}.")
            return None
        guards = "forward-auth"
        url = self.url(NGINX_AUTH_URL, guards, variables=True)
        method = (self.get(NGINX_AUTH_METHOD) or "GET").strip().upper()
        if not _TOKEN.match(method):
            self.fail(NGINX_AUTH_METHOD, guards, f"{method!r} is not an HTTP method", "Write e.g. GET.")
            method = ""
        signin: str | None = ""
        if NGINX_AUTH_SIGNIN in self.annotations:
            signin = self.url(NGINX_AUTH_SIGNIN, guards, relative_ok=True, variables=True)
        param = (self.get(NGINX_AUTH_SIGNIN_PARAM) or "rd").strip()
        if not re.fullmatch(r"[A-Za-z0-9_.~-]+", param):
            self.fail(NGINX_AUTH_SIGNIN_PARAM, guards, f"{param!r} is not a parameter name", "Write e.g. rd.")
            param = ""
        headers = self.header_names(NGINX_AUTH_RESPONSE_HEADERS, guards)
        redirect = (self.get(NGINX_AUTH_REQUEST_REDIRECT) or "").strip()
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

    def auth_forwarding(self) -> tuple[str, bool]:
        field_name = ""
        raw = self.get(AUTH_HEADER_FIELD)
        if raw is not None:
            field_name = raw.strip()
            if not _TOKEN.match(field_name):
                self.fail(
                    AUTH_HEADER_FIELD,
                    "basic-auth",
                    f"{raw!r} is not a header name",
                    "Write a header name, e.g. X-WebAuth-User.",
                )
                field_name = ""
        remove = self.boolean(AUTH_REMOVE_HEADER, "basic-auth")
        return field_name, bool(remove)

    # ------------------------------------------------------------ ingress-nginx basic auth

    def nginx_basic_auth(self) -> tuple[BasicAuth | None, str]:
        auth_type = self.get(NGINX_AUTH_TYPE)
        secret_ref = self.get(NGINX_AUTH_SECRET)
        if auth_type is None and secret_ref is None:
            return None, ""
        kind = (auth_type or "").strip().lower()
        problem = ""
        key = NGINX_AUTH_TYPE
        if auth_type is None:
            problem = f"{NGINX_AUTH_SECRET} is set but {NGINX_AUTH_TYPE} is not"
        elif kind == "digest":
            problem = "auth-type digest is not supported by ingressctl"
        elif kind != "basic":
            problem = f"auth-type {auth_type!r} is not basic or digest"
        elif not secret_ref or not secret_ref.strip():
            problem = f"auth-type basic needs {NGINX_AUTH_SECRET}"
        else:
            key = NGINX_AUTH_SECRET
            ns, _, name = secret_ref.strip().rpartition("/")
            ns = ns or self.ingress.meta.namespace
            secret_type = (self.get(NGINX_AUTH_SECRET_TYPE) or "auth-file").strip().lower()
            secret = self.lookup_secret(ns, name)
            realm = (self.get(NGINX_AUTH_REALM) or "").strip() or "ingressctl"
            if secret_type not in ("auth-file", "auth-map"):
                key = NGINX_AUTH_SECRET_TYPE
                problem = f"auth-secret-type {secret_type!r} is not auth-file or auth-map"
            elif secret is None and not self.secrets_in_input:
                self.diagnostics.append(
                    finding(
                        codes.AUTH_INVALID,
                        Severity.INFO,
                        self.ingress,
                        f"basic auth Secret {ns}/{name} is not part of the input; if the cluster lacks it, "
                        "every route of this Ingress answers 503",
                        "Pass the Secret manifest too, and --require-services to make a missing one "
                        "an error.",
                        annotation_location(self.ingress, key),
                    )
                )
                return None, f"Secret {ns}/{name} is not part of the input"
            elif secret is None:
                problem = f"Secret {ns}/{name} does not exist"
            else:
                users, problem = _users(secret, secret_type)
                if not problem:
                    return BasicAuth(realm=realm, users=users, source=f"Secret {ns}/{name}"), ""
        self.diagnostics.append(
            finding(
                codes.AUTH_INVALID,
                Severity.ERROR,
                self.ingress,
                f"basic auth is broken ({problem}); every route of this Ingress answers 503",
                f"Set {NGINX_AUTH_TYPE}: basic and {NGINX_AUTH_SECRET} to a Secret holding htpasswd users "
                f"({NGINX_AUTH_SECRET_TYPE}: auth-file or auth-map).",
                annotation_location(self.ingress, key),
            )
        )
        return None, problem

    # ------------------------------------------------------------ limits

    def source_key(self, key: str, raw: str, guards: str) -> SourceKey | None:
        text = raw.strip()
        lowered = text.lower()
        if lowered == "client.ip":
            return SourceKey(SourceKind.CLIENT_IP)
        if lowered == "request.host":
            return SourceKey(SourceKind.HOST)
        if lowered.startswith("request.header."):
            header = text[len("request.header.") :]
            if _TOKEN.match(header):
                return SourceKey(SourceKind.HEADER, header)
        self.fail(
            key,
            guards,
            f"extractor {raw!r} is not client.ip, request.host or request.header.NAME",
            "Write e.g. extractorFunc: client.ip.",
        )
        return None

    def traefik_rate_limit(self) -> RateLimit | None:
        raw = self.get(RATE_LIMIT)
        if raw is None:
            return None
        guards = "rate-limit"
        hint = (
            "Write YAML: extractorFunc: client.ip, then rateset: with one or more named entries of "
            "period (e.g. 10s), average and burst."
        )
        import yaml  # only this annotation needs PyYAML; validate starts without it

        try:
            doc = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            self.fail(RATE_LIMIT, guards, f"not YAML ({str(exc).splitlines()[0]})", hint)
            return None
        if not isinstance(doc, dict):
            self.fail(RATE_LIMIT, guards, "not a YAML mapping", hint)
            return None
        fields = {str(k).lower(): v for k, v in doc.items()}
        unknown = sorted(set(fields) - {"extractorfunc", "rateset"})
        if unknown:
            self.fail(RATE_LIMIT, guards, f"unknown key(s) {', '.join(unknown)}", hint)
            return None
        source = self.source_key(RATE_LIMIT, str(fields.get("extractorfunc", "")), guards)
        rateset = fields.get("rateset")
        if not isinstance(rateset, dict) or not rateset:
            self.fail(RATE_LIMIT, guards, "rateset is missing or empty", hint)
            return None
        rates: list[RateSet] = []
        for name, entry in rateset.items():
            rate = self.rate_set(str(name), entry, hint)
            if rate is None:
                return None
            rates.append(rate)
        if source is None:
            return None
        return RateLimit(source, tuple(rates), _TRAEFIK_LIMITED, (), RATE_LIMIT)

    def rate_set(self, name: str, entry: object, hint: str) -> RateSet | None:
        if not isinstance(entry, dict):
            self.fail(RATE_LIMIT, "rate-limit", f"rateset {name!r} is not a mapping", hint)
            return None
        values = {str(k).lower(): v for k, v in entry.items()}
        unknown = sorted(set(values) - {"period", "average", "burst"})
        period = parse_duration(str(values.get("period", "1s")))
        average = _positive_int(values.get("average"))
        burst = _positive_int(values.get("burst", 1))
        problem = ""
        if unknown:
            problem = f"unknown key(s) {', '.join(unknown)}"
        elif period is None or period <= 0:
            problem = f"period {values.get('period')!r} is not a positive duration"
        elif average is None:
            problem = f"average {values.get('average')!r} is not a positive whole number"
        elif burst is None:
            problem = f"burst {values.get('burst')!r} is not a positive whole number"
        if problem:
            self.fail(RATE_LIMIT, "rate-limit", f"rateset {name!r}: {problem}", hint)
            return None
        assert period is not None and average is not None and burst is not None
        return RateSet(name, period, average, burst)

    def positive_int(self, key: str, guards: str) -> int | None:
        raw = self.get(key)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            value = -1
        if value <= 0:
            self.fail(key, guards, f"{raw!r} is not a positive whole number", 'Write e.g. "10".')
            return None
        return value

    def nginx_limits(self) -> tuple[RateLimit | None, InFlightLimit | None]:
        rps = self.positive_int(NGINX_LIMIT_RPS, "rate-limit")
        rpm = self.positive_int(NGINX_LIMIT_RPM, "rate-limit")
        conns = self.positive_int(NGINX_LIMIT_CONNECTIONS, "in-flight-limit")
        multiplier = self.positive_int(NGINX_LIMIT_BURST, "rate-limit") or _NGINX_BURST_DEFAULT
        exempt = self.cidrs(NGINX_LIMIT_WHITELIST, "rate-limit") or ()
        if rps is None and rpm is None and conns is None:
            if NGINX_LIMIT_BURST in self.annotations or NGINX_LIMIT_WHITELIST in self.annotations:
                key = NGINX_LIMIT_BURST if NGINX_LIMIT_BURST in self.annotations else NGINX_LIMIT_WHITELIST
                self.warn(key, "has no effect without limit-rps, limit-rpm or limit-connections", "")
            return None, None
        rates: list[RateSet] = []
        if rps is not None:
            rates.append(RateSet("rps", 1.0, rps, rps * multiplier))
        if rpm is not None:
            rates.append(RateSet("rpm", 60.0, rpm, rpm * multiplier))
        source = SourceKey(SourceKind.CLIENT_IP)
        spelling = NGINX_LIMIT_RPS if rps is not None else NGINX_LIMIT_RPM
        rate = RateLimit(source, tuple(rates), _NGINX_LIMITED, exempt, spelling) if rates else None
        in_flight = (
            InFlightLimit(source, conns, _NGINX_LIMITED, exempt, NGINX_LIMIT_CONNECTIONS)
            if conns is not None
            else None
        )
        return rate, in_flight


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _users(secret: Secret, secret_type: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """The users of an ingress-nginx auth Secret, or why it cannot be used (the routes fail closed)."""
    ref = f"Secret {secret.meta.namespace}/{secret.meta.name}"
    if secret_type == "auth-map":
        lines: list[str] = []
        for user, value in sorted(secret.data.items()):
            try:
                hashed = value.decode("utf-8").strip()
            except UnicodeDecodeError:
                return (), f"{ref} key {user!r} is not UTF-8 text"
            if ":" in user or not user:
                return (), f"{ref} key {user!r} is not a user name"
            lines.append(f"{user}:{hashed}")
        text = "\n".join(lines)
    else:
        raw = secret.data.get("auth")
        if raw is None:
            return (), f"{ref} has no 'auth' key"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return (), "the htpasswd data is not UTF-8 text"
    from ingressctl.security import htpasswd  # hashing libraries only when auth is present

    parsed = htpasswd.parse(text)
    fatal = [p for p in parsed.problems if p.fatal]
    if fatal:
        return (), "; ".join(f"htpasswd line {p.line}: {p.message}" for p in fatal)
    if not parsed.users:
        return (), "the htpasswd data holds no user"
    return parsed.users, ""


def parse_access(
    ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool = True
) -> AccessAnnotations:
    """This family's annotations on `ingress`, typed; bad values are errors and fail closed.

    `lookup_secret`: (namespace, name) -> Secret | None, as routing.annotations.SecretLookup.
    """
    annotations = ingress.meta.annotations
    if not any(key in KNOWN_ACCESS or key == AUTH_TYPE for key in annotations):
        return AccessAnnotations()
    parser = _AccessParser(ingress, lookup_secret, secrets_in_input)
    forward = parser.forward_auth()
    user_header, remove_authorization = parser.auth_forwarding()
    deny = parser.cidrs(NGINX_DENYLIST, "ip-deny-list") or ()
    xff = bool(parser.boolean(WHITELIST_XFF, "ip-allow-list")) or bool(
        parser.boolean(TRAEFIK_WHITELIST_XFF, "ip-allow-list")
    )
    if xff and not any(k in annotations for k in ALLOW_LIST_KEYS):
        key = WHITELIST_XFF if WHITELIST_XFF in annotations else TRAEFIK_WHITELIST_XFF
        parser.warn(key, "has no effect without a source allow-list", "Add whitelist-source-range.")
    basic, auth_error = parser.nginx_basic_auth()
    traefik_rate = parser.traefik_rate_limit()
    nginx_rate, in_flight = parser.nginx_limits()
    if traefik_rate is not None and nginx_rate is not None:
        parser.warn(
            NGINX_LIMIT_RPS if NGINX_LIMIT_RPS in annotations else NGINX_LIMIT_RPM,
            "both Traefik's rate-limit and ingress-nginx's limits are set; Traefik's is used",
            "Keep one of the two spellings.",
        )
    controls = AccessControls(
        forward_auth=forward,
        deny_source_ranges=deny,
        allow_forwarded_for=xff,
        rate_limit=traefik_rate or nginx_rate,
        in_flight=in_flight,
        auth_user_header=user_header,
        remove_authorization=remove_authorization,
        failures=tuple(parser.failures),
    )
    return AccessAnnotations(controls, basic, auth_error, parser.diagnostics)
