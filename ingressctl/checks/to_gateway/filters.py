"""One Ingress's annotations, as the compiler parsed them, turned into Gateway API filters and notes.

The annotations are read by `routing.annotations.parse_annotations`, the parser `serve` uses: the
Traefik 1.7, Traefik v2/v3 and ingress-nginx spellings of one behaviour arrive here as one typed
value, and a value `serve` refuses is refused here too (the Ingress fails closed, so does its
migration). What each becomes:
- https redirects (ssl-redirect, force-ssl-redirect, redirect-entry-point to a TLS entrypoint):
  a second HTTPRoute on the plain listeners whose rules answer a RequestRedirect to https;
- permanent-/temporal-redirect: RequestRedirect rules; app-root: an Exact `/` redirect rule;
- rewrite-target, request-modifier, rule-type PathPrefixStrip/ReplacePath: URLRewrite paths
  (ReplacePrefixMatch / ReplaceFullPath), folded in the order the chain applies them;
- custom request/response headers, x-forwarded-prefix and the security headers: header modifiers;
- upstream-vhost: a URLRewrite hostname; allowed-hosts: the route's hostnames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingressctl.checks.to_gateway.notes import Note, NoteKind, default_note, is_controller_key
from ingressctl.checks.to_gateway.schema import JsonMap, is_header_name, is_precise_hostname
from ingressctl.model import Ingress, PathType
from ingressctl.model.rewrites import HeaderEdit, PathRewriteKind
from ingressctl.routing import annotations as traefik
from ingressctl.routing import annotations_rewrites as rw
from ingressctl.routing.annotations import IngressAnnotations
from ingressctl.routing.misspelt import protects

NGINX = "nginx.ingress.kubernetes.io/"
T = "traefik.ingress.kubernetes.io/"
_SECURITY_HEADERS = (
    rw.HSTS_MAX_AGE,
    rw.HSTS_INCLUDE_SUBDOMAINS,
    rw.HSTS_PRELOAD,
    rw.FORCE_HSTS,
    rw.FRAME_DENY,
    rw.CUSTOM_FRAME_OPTIONS,
    rw.CONTENT_TYPE_NOSNIFF,
    rw.BROWSER_XSS_FILTER,
    rw.CUSTOM_BROWSER_XSS,
    rw.CONTENT_SECURITY_POLICY,
    rw.REFERRER_POLICY,
    rw.PUBLIC_KEY,
    rw.IS_DEVELOPMENT,
)
_HTTPS_REDIRECT = (
    rw.SSL_REDIRECT,
    rw.SSL_TEMPORARY_REDIRECT,
    rw.SSL_HOST,
    rw.NGINX_SSL_REDIRECT,
    rw.NGINX_FORCE_SSL_REDIRECT,
)
_ENTRYPOINT_KEYS = (
    traefik.ROUTER_ENTRYPOINTS,
    traefik.FRONTEND_ENTRYPOINTS,
    T + "frontend-entry-points",
    traefik.ROUTER_TLS,
)
_PRIORITY_KEYS = (traefik.ROUTER_PRIORITY, traefik.FRONTEND_PRIORITY, T + "priority")
_CANARY_KEYS = tuple(
    NGINX + name
    for name in (
        "canary",
        "canary-weight",
        "canary-weight-total",
        "canary-by-header",
        "canary-by-header-value",
        "canary-by-header-pattern",
    )
)
_BACKEND_SCHEME_KEYS = (
    NGINX + "backend-protocol",
    "ingress.kubernetes.io/protocol",
    T + "service.serversscheme",
)


@dataclass(frozen=True, slots=True)
class PathOp:
    """One step of what the route does to the path sent upstream."""

    kind: str  # "strip" (the matched prefix goes), "prefix" (it becomes value), "full", "add"
    value: str = ""


@dataclass(frozen=True, slots=True)
class RedirectSpec:
    """A RequestRedirect that a rule answers instead of forwarding."""

    status: int
    scheme: str = ""
    hostname: str = ""
    port: int | None = None
    full_path: str = ""


@dataclass(slots=True)
class Treatment:
    """What the annotations of one Ingress do to each of its routes."""

    request_headers: JsonMap | None = None
    response_headers: JsonMap | None = None
    upstream_host: str = ""
    path_ops: list[PathOp] = field(default_factory=list)
    https_redirect: RedirectSpec | None = None
    https_only_with_tls: bool = False
    entrypoint_redirect: str = ""  # Traefik redirect-entry-point: the entrypoint it names
    entrypoint_redirect_status: int = 302
    fixed_redirect: RedirectSpec | None = None
    app_root: RedirectSpec | None = None
    entrypoints: tuple[str, ...] = ()
    tls_only: bool = False
    allowed_hosts: tuple[str, ...] = ()
    nginx_regex: bool = False  # use-regex / rewrite-target: the paths are ingress-nginx regexes
    nginx_rewrite_target: str | None = None
    rule_path_type: PathType | None = None  # traefik.frontend.rule.type / router.pathmatcher
    service_weights: dict[str, float] = field(default_factory=dict)  # Traefik service-weights
    notes: list[Note] = field(default_factory=list)
    handled: set[str] = field(default_factory=set)


_OFF = frozenset({"false", "0", "off"})


# RequestRedirect.statusCode (gateway.networking.k8s.io/v1 HTTPRequestRedirectFilter): 301 and 302
# are Core; 303, 307 and 308 are Extended (features HTTPRoute303/307/308RedirectStatusCode, in the
# CRD's enum since Gateway API v1.1).
CORE_REDIRECT_CODES = (301, 302)
EXTENDED_REDIRECT_CODES = (303, 307, 308)


def redirect_code(status: int) -> int:
    """The code a RequestRedirect is written with: the original one when the API has it (307 and 308
    keep the method, which 302 and 301 let clients change to GET); any other: 301 or 302."""
    if status in CORE_REDIRECT_CODES or status in EXTENDED_REDIRECT_CODES:
        return status
    return 301 if status in (301, 308) else 302


def extended_code_note(status: int) -> str:
    """What a note says about a code only Extended support serves ("" for a Core one)."""
    if status not in EXTENDED_REDIRECT_CODES:
        return ""
    return (
        f"statusCode {status} is Extended support (HTTPRoute{status}RedirectStatusCode, Gateway API v1.1 or "
        "later CRDs): an implementation without it does not accept the route; ingressctl serves it"
    )


class _Reader:
    def __init__(self, ingress: Ingress) -> None:
        self.ingress = ingress
        self.subject = str(ingress.ref)
        self.treatment = Treatment()

    def where(self, key: str) -> str:
        location = self.ingress.meta.annotation_locations.get(key) or self.ingress.meta.location
        return str(location) if location is not None else ""

    def present(self, *keys: str) -> list[str]:
        return [k for k in keys if k in self.ingress.meta.annotations]

    def take(self, *keys: str, kind: NoteKind = NoteKind.MIGRATED, text: str = "") -> None:
        """Record the present `keys` as dealt with, with one note naming them when `text` says something."""
        fresh = [key for key in self.present(*keys) if key not in self.treatment.handled]
        self.treatment.handled.update(fresh)
        if fresh and text:
            self.treatment.notes.append(
                Note(kind, self.subject, ", ".join(fresh), text, self.where(fresh[0]))
            )

    def note(self, kind: NoteKind, text: str, key: str = "") -> None:
        self.treatment.notes.append(Note(kind, self.subject, key, text, self.where(key) if key else ""))


def treatment_of(ingress: Ingress, parsed: IngressAnnotations, *, canary: bool) -> Treatment:
    """The filters and notes for `ingress`; `canary`: it is an ingress-nginx canary, whose other
    annotations ingress-nginx ignores (the main Ingress's apply)."""
    r = _Reader(ingress)
    t = r.treatment
    r.take(traefik.CLASS, text="")
    # Foreign and misspelt protections get a note of their own key (below); the other reasons
    # (control characters, a bad value of a security annotation, ...) are said here.
    reasons = [
        reason
        for reason in parsed.refusal.split("; ")
        if reason and not reason.startswith(("unsupported protection annotations", "misspelt protection"))
    ]
    if reasons:
        r.note(
            NoteKind.UNPROTECTED,
            f"ingressctl refuses this Ingress ({'; '.join(reasons)}): its routes answer 503 today; "
            "not migrated as it stands: fix the annotations first",
        )
    r.take(*_CANARY_KEYS)
    if canary:
        for key in sorted(ingress.meta.annotations):
            if is_controller_key(key) and key not in t.handled:
                r.take(
                    key,
                    kind=NoteKind.CHANGED,
                    text="ignored on a canary Ingress (as ingress-nginx does): the main Ingress's apply",
                )
        return t
    _redirects(r, parsed)
    _paths(r, parsed)
    _headers(r, parsed)
    _placement(r, parsed)
    for key in sorted(ingress.meta.annotations):
        if is_controller_key(key) and key not in t.handled:
            t.handled.add(key)
            off = ingress.meta.annotations[key].strip().lower() in _OFF
            if off and not protects(key):
                continue  # a feature switched off loses nothing (a protection stays refused, as in serve)
            t.notes.append(default_note(r.subject, key, r.where(key)))
    return t


def _redirects(r: _Reader, parsed: IngressAnnotations) -> None:
    t = r.treatment
    rewrites = parsed.rewrites
    https = rewrites.https_redirect if rewrites is not None else None
    if https is not None and https.plain:
        host, _, port = https.host.partition(":")
        if host and not is_precise_hostname(host.lower()):
            r.note(NoteKind.LOST, f"ssl-host {host!r} is not a hostname a RequestRedirect takes", rw.SSL_HOST)
            host = ""
        t.https_redirect = RedirectSpec(
            redirect_code(https.status), "https", host.lower(), int(port) if port else None
        )
        t.https_only_with_tls = https.only_with_tls
        changed = f" (status {https.status} is written as {redirect_code(https.status)})"
        extended = extended_code_note(https.status)
        r.take(
            *_HTTPS_REDIRECT,
            traefik.REDIRECT_PERMANENT,
            kind=NoteKind.CHANGED if redirect_code(https.status) != https.status else NoteKind.MIGRATED,
            text="plain-HTTP requests get a RequestRedirect to https (an HTTPRoute on the plain listeners)"
            + (changed if redirect_code(https.status) != https.status else "")
            + (f"; {extended}" if extended else ""),
        )
        if https.force_host:
            r.take(
                rw.SSL_FORCE_HOST,
                kind=NoteKind.CHANGED,
                text="TLS requests for another host are no longer redirected to ssl-host",
            )
    elif https is not None:
        r.take(
            rw.SSL_FORCE_HOST,
            rw.SSL_HOST,
            kind=NoteKind.LOST,
            text="redirecting requests for other hosts to ssl-host has no Gateway API equivalent",
        )
    if parsed.redirect is not None:
        t.entrypoint_redirect = parsed.redirect.entrypoint
        t.entrypoint_redirect_status = 301 if parsed.redirect.permanent else 302
        r.take(traefik.REDIRECT_ENTRY_POINT, traefik.REDIRECT_PERMANENT)
    if rewrites is None:
        return
    if rewrites.fixed_redirect is not None:
        t.fixed_redirect = _url_redirect(r, rewrites.fixed_redirect.url, rewrites.fixed_redirect.status)
        r.take(rw.NGINX_PERMANENT_REDIRECT, rw.NGINX_TEMPORAL_REDIRECT, rw.NGINX_PERMANENT_REDIRECT_CODE)
    if rewrites.app_root is not None:
        t.app_root = RedirectSpec(redirect_code(rewrites.app_root.status), full_path=rewrites.app_root.path)
        extended = extended_code_note(rewrites.app_root.status)
        r.take(rw.APP_ROOT, rw.NGINX_APP_ROOT, traefik.REDIRECT_PERMANENT, text=extended)
    if rewrites.regex_redirect is not None:
        r.take(
            rw.REDIRECT_REGEX,
            rw.REDIRECT_REPLACEMENT,
            kind=NoteKind.LOST,
            text="a regex redirect has no Gateway API equivalent (RequestRedirect has no regex "
            "replacement); not migrated: the requests reach the backend instead",
        )
    if rewrites.www_redirect:
        r.take(
            rw.NGINX_FROM_TO_WWW,
            kind=NoteKind.LOST,
            text="add an HTTPRoute for the www/non-www host with a RequestRedirect hostname filter",
        )


def _url_redirect(r: _Reader, url: str, status: int) -> RedirectSpec:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        r.note(
            NoteKind.CHANGED,
            f"the query/fragment of {url!r} cannot be set by a RequestRedirect; the request's query is kept",
        )
    if redirect_code(status) != status:
        r.note(NoteKind.CHANGED, f"redirect status {status} is written as {redirect_code(status)}")
    elif extended_code_note(status):
        r.note(NoteKind.MIGRATED, extended_code_note(status))
    return RedirectSpec(
        redirect_code(status),
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port,
        parts.path or "/",
    )


def _paths(r: _Reader, parsed: IngressAnnotations) -> None:
    t = r.treatment
    regex = parsed.regex
    if regex is not None and regex.makes_regex:
        t.nginx_regex = True
        t.nginx_rewrite_target = regex.rewrite_target
        r.take(NGINX + "use-regex", NGINX + "rewrite-target")
    t.rule_path_type = parsed.path_type
    t.service_weights = dict(parsed.service_weights)
    if t.service_weights:
        r.take(traefik.SERVICE_WEIGHTS)
    if parsed.strip_prefix:
        t.path_ops.append(PathOp("strip"))
    rule_type = traefik.RULE_TYPE in r.ingress.meta.annotations
    rewrites = parsed.rewrites
    if rewrites is not None and rewrites.replace_with_route_path:
        t.path_ops.append(PathOp("route-path"))
    if rewrites is not None and rewrites.rewrite_target:
        t.path_ops.append(PathOp("prefix", rewrites.rewrite_target))
        r.take(rw.REWRITE_TARGET)
    if rule_type or parsed.path_type is not None:
        r.take(traefik.RULE_TYPE, rw.PATH_MATCHER)
    for step in rewrites.path_rewrites if rewrites is not None else ():
        if step.kind is PathRewriteKind.ADD_PREFIX:
            t.path_ops.append(PathOp("add", step.value))
            r.take(rw.REQUEST_MODIFIER)
        elif step.kind is PathRewriteKind.REPLACE_PATH:
            t.path_ops.append(PathOp("full", step.value))
            r.take(rw.REQUEST_MODIFIER)
        else:
            r.take(
                rw.REQUEST_MODIFIER,
                kind=NoteKind.LOST,
                text="ReplacePathRegex has no Gateway API equivalent (URLRewrite has no regex "
                "replacement); the backend receives the path unchanged",
            )


def _header_modifier(edits: list[HeaderEdit]) -> JsonMap | None:
    latest: dict[str, HeaderEdit] = {}
    for edit in edits:
        latest[edit.name.lower()] = edit
    setting = [{"name": e.name, "value": e.value} for e in latest.values() if e.value]
    removing = [e.name for e in latest.values() if not e.value]
    body: JsonMap = {}
    if setting:
        body["set"] = setting
    if removing:
        body["remove"] = removing
    return body or None


def _headers(r: _Reader, parsed: IngressAnnotations) -> None:
    t = r.treatment
    rewrites = parsed.rewrites
    if rewrites is None:
        return
    request = [e for e in rewrites.request_headers if is_header_name(e.name)]
    t.request_headers = _header_modifier(request)
    r.take(rw.CUSTOM_REQUEST_HEADERS, rw.NGINX_X_FORWARDED_PREFIX)
    response = list(rewrites.response_headers)
    if rewrites.security is not None:
        response = [HeaderEdit(n, v) for n, v in rewrites.security.response_headers(over_tls=True)] + response
        r.take(
            *_SECURITY_HEADERS,
            kind=NoteKind.CHANGED,
            text="security headers are set by a ResponseHeaderModifier on every response; "
            "Strict-Transport-Security also on plain HTTP (browsers ignore it there)",
        )
    t.response_headers = _header_modifier(response)
    r.take(rw.CUSTOM_RESPONSE_HEADERS)
    if rewrites.upstream_host:
        host = rewrites.upstream_host.lower()
        if ":" in host or not is_precise_hostname(host):
            r.take(
                rw.NGINX_UPSTREAM_VHOST,
                kind=NoteKind.LOST,
                text=f"{rewrites.upstream_host!r} is not a hostname a URLRewrite takes (no port, no IP)",
            )
        else:
            t.upstream_host = host
            r.take(rw.NGINX_UPSTREAM_VHOST)
    if not rewrites.pass_host_header:
        r.take(
            rw.PASS_HOST_HEADER,
            rw.PRESERVE_HOST,
            kind=NoteKind.CHANGED,
            text="the Gateway sends the client's Host to the backend; add a URLRewrite hostname "
            "if the backend needs its own name",
        )
    r.take(rw.PASS_HOST_HEADER, rw.PRESERVE_HOST)
    if rewrites.tls_proxy_headers:
        r.take(
            rw.SSL_PROXY_HEADERS,
            kind=NoteKind.LOST,
            text="the Gateway decides on its own which requests arrived over TLS",
        )
    if rewrites.allowed_hosts:
        t.allowed_hosts = rewrites.allowed_hosts
        r.take(
            rw.ALLOWED_HOSTS,
            kind=NoteKind.CHANGED,
            text="carried by the HTTPRoute hostnames: requests for other hosts get 404 instead of 421",
        )


def _placement(r: _Reader, parsed: IngressAnnotations) -> None:
    t = r.treatment
    t.entrypoints = parsed.entrypoints
    t.tls_only = parsed.tls_only
    r.take(*_ENTRYPOINT_KEYS)
    r.take(
        *_PRIORITY_KEYS,
        kind=NoteKind.CHANGED,
        text="the Gateway API has no route priority: its precedence rules (host, then the longest "
        "path, method, headers, query) decide",
    )
    r.take(
        traefik.ROUTER_CERTRESOLVER,
        kind=NoteKind.CHANGED,
        text="the Gateway takes certificates from Secrets (certificateRefs): issue them with cert-manager",
    )
    for key in r.present(*_BACKEND_SCHEME_KEYS):
        value = r.ingress.meta.annotations[key].strip().lower()
        if value in ("http", ""):
            r.take(key)
        elif value in ("grpc", "grpcs"):
            r.take(
                key,
                kind=NoteKind.LOST,
                text=f"{value}: serve the backend with a GRPCRoute (and a BackendTLSPolicy for grpcs)",
            )
        else:
            r.take(
                key,
                kind=NoteKind.LOST,
                text=f"{value} to the backend: set the Service port's appProtocol and add a "
                "BackendTLSPolicy (Gateway API) for the Service; the Gateway otherwise speaks plain HTTP",
            )
