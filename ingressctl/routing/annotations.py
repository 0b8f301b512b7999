"""The annotations we honour, parsed into typed values.

A value that cannot be parsed is a Diagnostic and the route is built without that middleware,
except what protects something: broken basic auth or allow-lists, values with control characters,
and other controllers' protections (routing/refusals.py) fail closed (the route answers 503).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingressctl.model import BasicAuth, Diagnostic, Ingress, PathType, Redirect, Secret, Severity
from ingressctl.model.access_controls import AccessControls
from ingressctl.routing import annotations_client_auth, backend_protocol, codes
from ingressctl.routing.access_keys import KNOWN_ACCESS, MULTI_LINE_ACCESS, NGINX_ALLOW_KEYS
from ingressctl.routing.annotation_values import AnnotationReader, parse_cidrs
from ingressctl.routing.annotations_access import parse_access
from ingressctl.routing.annotations_client_auth import parse_client_auth
from ingressctl.routing.annotations_client_cert_headers import (
    KNOWN as KNOWN_CERT_HEADERS,
)
from ingressctl.routing.annotations_client_cert_headers import (
    MULTI_LINE as MULTI_LINE_CERT_HEADERS,
)
from ingressctl.routing.annotations_client_cert_headers import (
    parse_client_cert_headers,
)
from ingressctl.routing.annotations_rewrites import KNOWN_REWRITE_ANNOTATIONS, parse_rewrites
from ingressctl.routing.backend_keys import BUFFERING, ERROR_PAGES, KNOWN_BACKEND_ANNOTATIONS
from ingressctl.routing.backend_protocol import IngressUpstream, parse_ingress_upstream
from ingressctl.routing.canary import KNOWN as CANARY_KNOWN
from ingressctl.routing.canary import Canary, parse_canary
from ingressctl.routing.cors import KNOWN as CORS_KNOWN
from ingressctl.routing.cors import parse_cors
from ingressctl.routing.misspelt import misspelt_protections
from ingressctl.routing.nginx_paths import KNOWN as NGINX_PATH_KNOWN
from ingressctl.routing.nginx_paths import RegexAnnotations, parse_regex_annotations
from ingressctl.routing.nginx_server import KNOWN as NGINX_SERVER_KNOWN
from ingressctl.routing.nginx_server import ServerOptions, parse_server_options
from ingressctl.routing.refusals import control_characters, refuse_foreign_protections
from ingressctl.routing.service_access import KNOWN_SERVICE_ACCESS

if TYPE_CHECKING:  # each family's parser builds them only for an Ingress that uses it (issue 18)
    from ingressctl.model.client_auth import ClientAuth
    from ingressctl.model.client_cert_headers import ClientCertHeaders
    from ingressctl.model.cors import CorsPolicy
    from ingressctl.model.rewrites import Rewrites

CLASS = "kubernetes.io/ingress.class"
AUTH_TYPE = "ingress.kubernetes.io/auth-type"
AUTH_SECRET = "ingress.kubernetes.io/auth-secret"
AUTH_REALM = "ingress.kubernetes.io/auth-realm"
SSL_REDIRECT = "ingress.kubernetes.io/ssl-redirect"
REDIRECT_ENTRY_POINT = "traefik.ingress.kubernetes.io/redirect-entry-point"
REDIRECT_PERMANENT = "traefik.ingress.kubernetes.io/redirect-permanent"
RULE_TYPE = "traefik.frontend.rule.type"
RULE_TYPE_17 = "traefik.ingress.kubernetes.io/rule-type"
FRONTEND_PRIORITY = "traefik.frontend.priority"
ROUTER_PRIORITY = "traefik.ingress.kubernetes.io/router.priority"
PRIORITY_17 = "traefik.ingress.kubernetes.io/priority"
SERVICE_WEIGHTS = "traefik.ingress.kubernetes.io/service-weights"
WHITELIST = "ingress.kubernetes.io/whitelist-source-range"
TRAEFIK_WHITELIST = "traefik.ingress.kubernetes.io/whitelist-source-range"
ROUTER_ENTRYPOINTS = "traefik.ingress.kubernetes.io/router.entrypoints"
FRONTEND_ENTRYPOINTS = "traefik.frontend.entryPoints"
FRONTEND_ENTRY_POINTS_17 = "traefik.ingress.kubernetes.io/frontend-entry-points"
ROUTER_TLS = "traefik.ingress.kubernetes.io/router.tls"
ROUTER_CERTRESOLVER = "traefik.ingress.kubernetes.io/router.tls.certresolver"
REDIRECT_REGEX = "traefik.ingress.kubernetes.io/redirect-regex"

KNOWN_ANNOTATIONS: dict[str, str] = {
    CLASS: "Ingress class; served when it is ours (--ingress-class) or 'traefik'.",
    AUTH_TYPE: "Authentication type: 'basic' (with auth-secret) or 'forward' (with auth-url); "
    "'digest' is not supported and fails closed (503).",
    AUTH_SECRET: "Secret (same namespace) whose 'auth' (or 'users') key holds htpasswd lines user:hash.",
    AUTH_REALM: "Realm shown in the basic-auth prompt.",
    SSL_REDIRECT: "true: plain-HTTP requests are redirected to the https entrypoint (301, 308 for "
    "methods other than GET/HEAD; see ssl-temporary-redirect, ssl-host).",
    REDIRECT_ENTRY_POINT: "Redirect requests to the named entrypoint (e.g. https).",
    REDIRECT_PERMANENT: "true: redirect-entry-point, redirect-regex and app-root redirects are permanent "
    "(301/308) instead of 302; false: ssl-redirect answers 302.",
    RULE_TYPE: "PathPrefix, PathPrefixStrip, Path, PathStrip or ReplacePath (the path sent upstream is "
    "the Ingress path): match type of paths without a pathType.",
    RULE_TYPE_17: "Traefik 1.7 spelling of traefik.frontend.rule.type (same values; it wins when both are "
    "set). For regex paths use router.pathmatcher: PathRegexp.",
    FRONTEND_PRIORITY: "Integer; higher-priority routes of a host win before longer paths.",
    ROUTER_PRIORITY: "Integer; higher-priority routes of a host win before longer paths.",
    PRIORITY_17: "Integer (Traefik 1.7); higher-priority routes of a host win before longer paths.",
    SERVICE_WEIGHTS: "Traffic split between services on the same path, e.g. 'svc-a: 90%\\nsvc-b: 10%'.",
    WHITELIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    TRAEFIK_WHITELIST: "Comma-separated CIDRs allowed to reach the routes; others get 403.",
    ROUTER_ENTRYPOINTS: "Comma-separated entrypoint names the routes are served on.",
    FRONTEND_ENTRYPOINTS: "Comma-separated entrypoint names the routes are served on (Traefik 1.x).",
    FRONTEND_ENTRY_POINTS_17: "Comma-separated entrypoint names the routes are served on (Traefik 1.7).",
    ROUTER_TLS: "true: the routes are served only on TLS entrypoints.",
    ROUTER_CERTRESOLVER: "Name of the certificate resolver (ACME) for the hosts; recorded on the routes.",
    **backend_protocol.KNOWN,
    **annotations_client_auth.KNOWN,
    **KNOWN_CERT_HEADERS,
    **KNOWN_ACCESS,
    **KNOWN_SERVICE_ACCESS,
    **KNOWN_BACKEND_ANNOTATIONS,
    **KNOWN_REWRITE_ANNOTATIONS,
}
KNOWN_ANNOTATIONS.update(NGINX_PATH_KNOWN)
KNOWN_ANNOTATIONS.update(CANARY_KNOWN)
KNOWN_ANNOTATIONS.update(CORS_KNOWN)
KNOWN_ANNOTATIONS.update(NGINX_SERVER_KNOWN)

# Values parsed as lists, line by line: line breaks and tabs in them are separators, not injections.
_MULTI_LINE = frozenset(
    {
        SERVICE_WEIGHTS,
        WHITELIST,
        TRAEFIK_WHITELIST,
        ROUTER_ENTRYPOINTS,
        FRONTEND_ENTRYPOINTS,
        FRONTEND_ENTRY_POINTS_17,
        *MULTI_LINE_ACCESS,
        BUFFERING,
        ERROR_PAGES,
        *MULTI_LINE_CERT_HEADERS,
    }
)

# Keys under these prefixes that are not in KNOWN_ANNOTATIONS are typos or unsupported features.
ANNOTATION_PREFIXES: tuple[str, ...] = (
    "nginx.ingress.kubernetes.io/",
    "ingress.kubernetes.io/",
    "traefik.ingress.kubernetes.io/",
    "traefik.frontend.",
    "traefik.backend.",
)

_RULE_TYPES: dict[str, tuple[PathType, bool]] = {
    "PathPrefix": (PathType.PREFIX, False),
    "PathPrefixStrip": (PathType.PREFIX, True),
    "Path": (PathType.EXACT, False),
    "PathStrip": (PathType.EXACT, True),
    # Deprecated in Traefik 1.7; the replacement itself is ingressctl.routing.annotations_rewrites's.
    "ReplacePath": (PathType.PREFIX, False),
}
_ENTRYPOINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class IngressAnnotations:
    """What the annotations of one Ingress ask for, already validated."""

    redirect: Redirect | None = None
    basic_auth: BasicAuth | None = None
    # Set when auth is configured but broken: every route of the Ingress fails closed.
    auth_error: str = ""
    # Set when an allow-list is given but unusable: fail closed like auth, never open to everyone.
    allow_error: str = ""
    allow_source_ranges: tuple[str, ...] = ()
    path_type: PathType | None = None  # from traefik.frontend.rule.type
    path_regexp: bool = False  # router.pathmatcher PathRegexp (routing/path_regexp.py)
    strip_prefix: bool = False
    priority: int = 0
    service_weights: dict[str, float] = field(default_factory=dict)
    entrypoints: tuple[str, ...] = ()
    tls_only: bool = False
    cert_resolver: str = ""
    # Set when an annotation cannot be honoured safely (routing/refusals.py): every route fails closed.
    refusal: str = ""
    # Backend protocol and backend TLS (routing/backend_protocol.py).
    upstream: IngressUpstream = field(default_factory=IngressUpstream)
    # ingress-nginx client certificates (routing/annotations_client_auth.py).
    client_auth: ClientAuth | None = None
    access: AccessControls = field(default_factory=AccessControls)
    regex: RegexAnnotations | None = None  # ingress-nginx use-regex / rewrite-target (nginx_paths)
    canary: Canary | None = None  # ingress-nginx canary (routing/canary.py)
    cors: CorsPolicy | None = None  # ingress-nginx enable-cors (routing/cors.py)
    rewrites: Rewrites | None = None  # paths, redirects, headers (routing/annotations_rewrites.py)
    client_cert_headers: ClientCertHeaders | None = None  # routing/annotations_client_cert_headers.py
    # ingress-nginx service-upstream, server-alias, enable-access-log (routing/nginx_server.py).
    server: ServerOptions = field(default_factory=ServerOptions)


SecretLookup = Callable[[str, str], Secret | None]


class _Parser(AnnotationReader):
    def __init__(self, ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool = True) -> None:
        super().__init__(ingress)
        self.annotations = ingress.meta.annotations
        self.lookup_secret = lookup_secret
        self.secrets_in_input = secrets_in_input

    def invalid(self, key: str, problem: str, hint: str) -> None:
        self.bad(key, f"{problem}; ignored", hint)

    def bad(self, key: str, message: str, hint: str, severity: Severity = Severity.WARNING) -> None:
        self.report(key, message, hint, severity)

    def unsafe_values(self) -> list[str]:
        """Our annotations whose values hold control characters; each is an error at its line.
        Checked once for every key: any of them may reach a header, a redirect or a log line."""
        unsafe: list[str] = []
        for key in sorted(self.annotations):
            if key not in KNOWN_ANNOTATIONS:
                continue
            found = control_characters(self.annotations[key], multi_line=key in _MULTI_LINE)
            if not found:
                continue
            unsafe.append(key)
            self.finding_at(
                key,
                f"annotation {key} holds control characters ({', '.join(found)}); "
                "every route of this Ingress answers 503 until it is fixed",
                "Write the value on one line without control characters (check the YAML quoting).",
                Severity.ERROR,
                codes.UNSAFE_ANNOTATION_VALUE,
            )
        return unsafe

    def entrypoint_list(self, key: str) -> tuple[str, ...] | None:
        raw = self.annotations.get(key)
        if raw is None:
            return None
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        wrong = [n for n in names if not _ENTRYPOINT.match(n)]
        if not names or wrong:
            self.bad(
                key,
                f"{raw!r} is not a comma-separated list of entrypoint names; ignored",
                'Write entrypoint names separated by commas, e.g. "web,websecure".',
            )
            return None
        return names

    def source_ranges(self) -> tuple[tuple[str, ...], str]:
        """The allow-list, and an error when any entry is unusable (the routes then refuse everyone)."""
        out: list[str] = []
        bad: list[str] = []
        for key in (WHITELIST, TRAEFIK_WHITELIST, *NGINX_ALLOW_KEYS):
            raw = self.annotations.get(key)
            if raw is None:
                continue
            networks, unusable = parse_cidrs(raw)
            out.extend(n for n in networks if n not in out)
            for item in unusable:
                bad.append(item)
                self.bad(
                    key,
                    f"{item!r} is not an IP address or CIDR; "
                    "the routes refuse every request until it is fixed",
                    'Write CIDRs separated by commas, e.g. "10.0.0.0/8, 192.168.1.7".',
                    Severity.ERROR,
                )
            if not raw.strip():
                bad.append("(empty)")
                self.bad(
                    key,
                    "the allow-list is empty; the routes refuse every request until it is fixed",
                    "Give the CIDRs allowed to reach the routes, or remove the annotation.",
                    Severity.ERROR,
                )
        error = f"source allow-list has unusable entries: {', '.join(bad)}" if bad else ""
        return tuple(out), error

    def service_weights(self) -> dict[str, float]:
        raw = self.annotations.get(SERVICE_WEIGHTS)
        if raw is None:
            return {}
        weights: dict[str, float] = {}
        hint = 'Write one "service: percent" per line, e.g. "app-v1: 90%\\napp-v2: 10%".'
        for line in raw.replace(",", "\n").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip().strip("\"'"), value.strip().strip("\"'").removesuffix("%").strip()
            try:
                percent = float(value)
            except ValueError:
                percent = -1.0
            if not colon or not name or not 0 < percent <= 100:
                self.bad(
                    SERVICE_WEIGHTS, f"{line!r} is not 'service: percent' (0-100); weights ignored", hint
                )
                return {}
            weights[name] = percent
        if sum(weights.values()) > 100.0001:
            self.bad(
                SERVICE_WEIGHTS, f"the weights add up to {sum(weights.values()):g}% (> 100%); ignored", hint
            )
            return {}
        return weights

    def redirect(self) -> Redirect | None:
        """redirect-entry-point (ssl-redirect is an https redirect of annotations_rewrites)."""
        entrypoint: str | None = None
        raw = self.annotations.get(REDIRECT_ENTRY_POINT)
        if raw is not None:
            if _ENTRYPOINT.match(raw.strip()):
                entrypoint = raw.strip()
            else:
                self.bad(
                    REDIRECT_ENTRY_POINT, f"{raw!r} is not an entrypoint name; ignored", "Write e.g. https."
                )
        permanent = self.boolean(REDIRECT_PERMANENT)
        if entrypoint is None:
            others = (SSL_REDIRECT, REDIRECT_REGEX, "traefik.ingress.kubernetes.io/app-root")
            if permanent is not None and not any(k in self.annotations for k in others):
                self.bad(
                    REDIRECT_PERMANENT,
                    "has no effect without ssl-redirect, redirect-entry-point, redirect-regex or app-root",
                    f"Add {REDIRECT_ENTRY_POINT} or remove this annotation.",
                    Severity.INFO,
                )
            return None
        return Redirect(entrypoint=entrypoint, permanent=bool(permanent))

    def rule_type(self) -> tuple[PathType | None, bool]:
        key = RULE_TYPE_17 if RULE_TYPE_17 in self.annotations else RULE_TYPE
        raw = self.annotations.get(key)
        if raw is None:
            return None, False
        mapped = _RULE_TYPES.get(raw.strip())
        if mapped is None:
            self.bad(
                key,
                f"{raw!r} is not supported; paths keep their pathType",
                "Use PathPrefix, PathPrefixStrip, Path, PathStrip or ReplacePath.",
            )
            return None, False
        return mapped

    def basic_auth(self) -> tuple[BasicAuth | None, str]:
        auth_type = self.annotations.get(AUTH_TYPE)
        secret_name = self.annotations.get(AUTH_SECRET)
        if auth_type is None and secret_name is None:
            return None, ""
        if auth_type is not None and auth_type.strip().lower() == "forward":
            return None, ""  # forward auth: routing/annotations_access.py
        from ingressctl.routing.annotations_basic_auth import report_broken, report_secret_not_in_input

        ns = self.ingress.meta.namespace
        unsafe = [
            k for k in (AUTH_TYPE, AUTH_SECRET, AUTH_REALM) if control_characters(self.annotations.get(k, ""))
        ]
        if unsafe:
            # Already an error (unsafe_values); refuse before a challenge or a log line carries it.
            return None, f"{', '.join(unsafe)} holds control characters"
        realm = self.annotations.get(AUTH_REALM, "").strip() or "ingressctl"
        problem = ""
        key = AUTH_TYPE
        if auth_type is None:
            problem = f"{AUTH_SECRET} is set but {AUTH_TYPE} is not"
        elif auth_type.strip().lower() != "basic":
            problem = f"auth-type {auth_type!r} is not supported (only 'basic' and 'forward')"
        elif not secret_name or not secret_name.strip():
            problem = f"auth-type basic needs {AUTH_SECRET}"
        else:
            key = AUTH_SECRET
            name = secret_name.strip()
            secret = self.lookup_secret(ns, name)
            if secret is None and not self.secrets_in_input:
                return None, report_secret_not_in_input(self, key, ns, name)
            if secret is None:
                problem = f"Secret {ns}/{name} does not exist"
            else:
                users, problem = _htpasswd_users(secret)
                if not problem:
                    return BasicAuth(realm=realm, users=users, source=f"Secret {ns}/{name}"), ""
        report_broken(
            self,
            key,
            problem,
            f"Set {AUTH_TYPE}: basic and {AUTH_SECRET} to a Secret whose 'auth' key holds htpasswd lines.",
        )
        return None, problem


def _htpasswd_users(secret: Secret) -> tuple[tuple[tuple[str, str], ...], str]:
    """The users of an auth Secret ('auth' key, or Traefik's 'users'), or why it cannot be used."""
    from ingressctl.routing.annotations_basic_auth import htpasswd_users, secret_text

    text, problem = secret_text(secret, ("auth", "users"))
    return htpasswd_users(text) if text is not None else ((), problem)


def parse_annotations(
    ingress: Ingress,
    lookup_secret: SecretLookup,
    secrets_in_input: bool = True,
    *,
    ignore_snippets: bool = False,
    pass_tls_cert: bool = False,
) -> tuple[IngressAnnotations, list[Diagnostic]]:
    """Every annotation we honour on `ingress`, typed; bad values become Diagnostics.

    secrets_in_input: False when the input is not declared complete: a missing Secret is then
    information (the routes still answer 503), as in `ingress_tls`.
    pass_tls_cert: [kubernetes] enablePassTLSCert, the default of pass-tls-cert.
    Reads only the Ingress's annotations and namespace (and Secrets through `lookup_secret`): the
    compiler shares one clean parse between Ingresses with the same ones (compiler._annotations).
    """
    parser = _Parser(ingress, lookup_secret, secrets_in_input)
    unsafe = parser.unsafe_values()
    foreign = refuse_foreign_protections(ingress, ignore_snippets=ignore_snippets)
    parser.diagnostics.extend(foreign.diagnostics)
    reasons = [foreign.reason] if foreign.reason else []
    misspelt, misspelt_found = misspelt_protections(ingress, KNOWN_ANNOTATIONS)
    parser.diagnostics.extend(misspelt_found)
    if misspelt:
        reasons.append(f"misspelt protection annotations: {', '.join(misspelt)}")
    if unsafe:
        reasons.insert(0, f"control characters in annotation {', '.join(unsafe)}")
    upstream, found = parse_ingress_upstream(ingress, lookup_secret, secrets_in_input)
    parser.diagnostics.extend(found)
    client_auth, found = parse_client_auth(ingress, lookup_secret, secrets_in_input)
    parser.diagnostics.extend(found)
    if client_auth.error:
        reasons.append(f"client certificates: {client_auth.error}")
    rewrites = parse_rewrites(ingress, frozenset(unsafe))
    parser.diagnostics.extend(rewrites.diagnostics)
    if rewrites.refusal:
        reasons.append(rewrites.refusal)
    cert_headers, found = parse_client_cert_headers(ingress, pass_tls_cert)
    parser.diagnostics.extend(found)
    if cert_headers.error:
        reasons.append(f"client certificate headers: {cert_headers.error}")
    path_type, strip = parser.rule_type()
    path_regexp = path_type is None and rewrites.path_regexp
    path_type = path_type or rewrites.path_type
    priority = parser.integer(ROUTER_PRIORITY)
    for older in (PRIORITY_17, FRONTEND_PRIORITY):
        if priority is None:
            priority = parser.integer(older)
    entrypoints: tuple[str, ...] | None = None
    for key in (ROUTER_ENTRYPOINTS, FRONTEND_ENTRY_POINTS_17, FRONTEND_ENTRYPOINTS):
        parsed = parser.entrypoint_list(key)
        if entrypoints is None:
            entrypoints = parsed
    auth, auth_error = parser.basic_auth()
    access = parse_access(ingress, lookup_secret, secrets_in_input)
    parser.diagnostics.extend(access.diagnostics)
    if auth is None and not auth_error:
        auth, auth_error = access.basic_auth, access.auth_error
    if access.controls.failures:
        reasons.append("; ".join(detail for _, detail in access.controls.failures))
    allow_source_ranges, allow_error = parser.source_ranges()
    resolver = (
        "" if ROUTER_CERTRESOLVER in unsafe else ingress.meta.annotations.get(ROUTER_CERTRESOLVER, "").strip()
    )
    regex, regex_found = parse_regex_annotations(ingress)
    parser.diagnostics.extend(regex_found)
    canary, canary_found = parse_canary(ingress)
    parser.diagnostics.extend(canary_found)
    cors, cors_found = parse_cors(ingress)
    parser.diagnostics.extend(cors_found)
    server, server_found = parse_server_options(ingress)
    parser.diagnostics.extend(server_found)
    result = IngressAnnotations(
        regex=regex,
        canary=canary,
        cors=cors,
        redirect=parser.redirect(),
        basic_auth=auth,
        auth_error=auth_error,
        allow_source_ranges=allow_source_ranges,
        allow_error=allow_error,
        path_type=path_type,
        path_regexp=path_regexp,
        strip_prefix=strip,
        priority=priority or 0,
        service_weights=parser.service_weights(),
        entrypoints=entrypoints or (),
        tls_only=bool(parser.boolean(ROUTER_TLS)),
        cert_resolver=resolver,
        refusal="; ".join(reasons),
        upstream=upstream,
        client_auth=client_auth.client_auth,
        access=access.controls,
        rewrites=rewrites.rewrites,
        client_cert_headers=cert_headers.headers,
        server=server,
    )
    return result, parser.diagnostics
