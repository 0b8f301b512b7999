"""Annotations that change paths, redirect, edit headers or the Host: Traefik 1.7, Traefik v2/v3 and
ingress-nginx spellings, parsed into one `Rewrites` (ingressctl.model.rewrites).

A bad value is a finding at its line. Values of settings that protect something (the ssl-* redirect,
the security headers, allowed-hosts) make every route of the Ingress fail closed (503) until they
are fixed: serving without them would quietly drop a protection the author asked for. Any other bad
value is a warning and the setting is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ingressctl.model import Diagnostic, Ingress, PathType, Severity
from ingressctl.routing.annotation_values import HEADER_NAME, AnnotationReader
from ingressctl.routing.hosts import is_ip_address, validate_host
from ingressctl.routing.userregex import UserRegexError, check_replacement, compile_user_regex

if TYPE_CHECKING:
    # The functions that build them import them: an Ingress without this family never loads the
    # model's dataclasses (validate start-up, issue 18; FAMILY_KEYS decides).
    from ingressctl.model.rewrites import (
        AppRoot,
        FixedRedirect,
        HeaderEdit,
        HttpsRedirect,
        PathRewrite,
        RegexRedirect,
        Rewrites,
        SecurityHeaders,
    )

T = "traefik.ingress.kubernetes.io/"
V1 = "ingress.kubernetes.io/"
NGINX = "nginx.ingress.kubernetes.io/"

SSL_REDIRECT = V1 + "ssl-redirect"
REDIRECT_PERMANENT = T + "redirect-permanent"
REWRITE_TARGET = T + "rewrite-target"
APP_ROOT = T + "app-root"
REQUEST_MODIFIER = T + "request-modifier"
REDIRECT_REGEX = T + "redirect-regex"
REDIRECT_REPLACEMENT = T + "redirect-replacement"
PRESERVE_HOST = T + "preserve-host"
PASS_HOST_HEADER = T + "service.passhostheader"
PATH_MATCHER = T + "router.pathmatcher"
CUSTOM_REQUEST_HEADERS = V1 + "custom-request-headers"
CUSTOM_RESPONSE_HEADERS = V1 + "custom-response-headers"
SSL_TEMPORARY_REDIRECT = V1 + "ssl-temporary-redirect"
SSL_HOST = V1 + "ssl-host"
SSL_FORCE_HOST = V1 + "ssl-force-host"
SSL_PROXY_HEADERS = V1 + "ssl-proxy-headers"
HSTS_MAX_AGE = V1 + "hsts-max-age"
HSTS_INCLUDE_SUBDOMAINS = V1 + "hsts-include-subdomains"
HSTS_PRELOAD = V1 + "hsts-preload"
FORCE_HSTS = V1 + "force-hsts"
FRAME_DENY = V1 + "frame-deny"
CUSTOM_FRAME_OPTIONS = V1 + "custom-frame-options-value"
CONTENT_TYPE_NOSNIFF = V1 + "content-type-nosniff"
BROWSER_XSS_FILTER = V1 + "browser-xss-filter"
CUSTOM_BROWSER_XSS = V1 + "custom-browser-xss-value"
CONTENT_SECURITY_POLICY = V1 + "content-security-policy"
REFERRER_POLICY = V1 + "referrer-policy"
PUBLIC_KEY = V1 + "public-key"
ALLOWED_HOSTS = V1 + "allowed-hosts"
IS_DEVELOPMENT = V1 + "is-development"
NGINX_SSL_REDIRECT = NGINX + "ssl-redirect"
NGINX_FORCE_SSL_REDIRECT = NGINX + "force-ssl-redirect"
NGINX_PERMANENT_REDIRECT = NGINX + "permanent-redirect"
NGINX_PERMANENT_REDIRECT_CODE = NGINX + "permanent-redirect-code"
NGINX_TEMPORAL_REDIRECT = NGINX + "temporal-redirect"
NGINX_APP_ROOT = NGINX + "app-root"
NGINX_UPSTREAM_VHOST = NGINX + "upstream-vhost"
NGINX_X_FORWARDED_PREFIX = NGINX + "x-forwarded-prefix"
NGINX_FROM_TO_WWW = NGINX + "from-to-www-redirect"

KNOWN_REWRITE_ANNOTATIONS: dict[str, str] = {
    REWRITE_TARGET: "Path that replaces the matched Ingress path before forwarding (`/api/x` on path "
    "`/api` with `/v2` → `/v2/x`); the old path goes in X-Replaced-Path.",
    APP_ROOT: "Requests for `/` are redirected (302; 301 with redirect-permanent) to this path.",
    REQUEST_MODIFIER: "One of `AddPrefix: /x`, `ReplacePath: /x`, `ReplacePathRegex: ^/a/(.*) /b/$1` "
    "(RE2 regex); applied to the path sent upstream, the old one in X-Replaced-Path.",
    REDIRECT_REGEX: "RE2 regex matched against the whole URL (`http://host/path?query`); a match is "
    "redirected to redirect-replacement (302; 301/308 with redirect-permanent).",
    REDIRECT_REPLACEMENT: "Target of redirect-regex, with `$1`/`${name}` groups.",
    PRESERVE_HOST: "false: the backend sees its own address as Host instead of the client's (Traefik "
    "1.7; the same setting as service.passhostheader).",
    PASS_HOST_HEADER: "false: the backend sees its own address as Host instead of the client's. Read "
    "from the Service (Traefik v2/v3), whose value wins for the routes to it, and from the Ingress.",
    PATH_MATCHER: "Path, PathPrefix or PathRegexp: how paths without a pathType (or "
    "ImplementationSpecific) match. PathRegexp: the path is an RE2 regex searched in the request path "
    "(case-sensitive, anchored only by ^/$ in it, as Traefik v3), ranked beside the host's other paths "
    "by priority, then length; a pattern RE2 refuses is an error and that path is not routed.",
    CUSTOM_REQUEST_HEADERS: "`Name: value||Name2: value2` set on the request sent upstream; an empty "
    "value removes the header.",
    CUSTOM_RESPONSE_HEADERS: "`Name: value||Name2: value2` set on the response; an empty value removes "
    "the header.",
    SSL_TEMPORARY_REDIRECT: "true: ssl-redirect answers 307 instead of 301/308.",
    SSL_HOST: "Host (and port) ssl-redirect sends the client to, instead of the request's host.",
    SSL_FORCE_HOST: "true: requests over TLS for another host than ssl-host are redirected to it too.",
    SSL_PROXY_HEADERS: "`Header: value||...`: a request carrying one of them counts as TLS (no redirect, "
    "HSTS sent).",
    HSTS_MAX_AGE: "Seconds of Strict-Transport-Security, sent on responses over TLS.",
    HSTS_INCLUDE_SUBDOMAINS: "true: HSTS with includeSubDomains.",
    HSTS_PRELOAD: "true: HSTS with preload.",
    FORCE_HSTS: "true: send HSTS on plain-HTTP responses too.",
    FRAME_DENY: "true: X-Frame-Options: DENY.",
    CUSTOM_FRAME_OPTIONS: "X-Frame-Options value (wins over frame-deny).",
    CONTENT_TYPE_NOSNIFF: "true: X-Content-Type-Options: nosniff.",
    BROWSER_XSS_FILTER: "true: X-XSS-Protection: 1; mode=block.",
    CUSTOM_BROWSER_XSS: "X-XSS-Protection value (wins over browser-xss-filter).",
    CONTENT_SECURITY_POLICY: "Content-Security-Policy value.",
    REFERRER_POLICY: "Referrer-Policy value.",
    PUBLIC_KEY: "Public-Key-Pins value.",
    ALLOWED_HOSTS: "Comma-separated hosts the routes answer for; other Host headers get 421. A bad "
    "entry fails closed (503).",
    IS_DEVELOPMENT: "true: allowed-hosts, ssl-redirect, HSTS and Public-Key-Pins are switched off.",
    NGINX_SSL_REDIRECT: "true: plain-HTTP requests for hosts with a TLS section get 308 to https.",
    NGINX_FORCE_SSL_REDIRECT: "true: plain-HTTP requests get 308 to https, TLS section or not.",
    NGINX_PERMANENT_REDIRECT: "Absolute URL every request is redirected to (301, or "
    "permanent-redirect-code).",
    NGINX_PERMANENT_REDIRECT_CODE: "Status of permanent-redirect, 300-308.",
    NGINX_TEMPORAL_REDIRECT: "Absolute URL every request is redirected to with 302.",
    NGINX_APP_ROOT: "Requests for `/` are redirected (302) to this path.",
    NGINX_UPSTREAM_VHOST: "Host header sent to the backend instead of the client's.",
    NGINX_X_FORWARDED_PREFIX: "Value of the X-Forwarded-Prefix header sent to the backend.",
    NGINX_FROM_TO_WWW: "true: requests for www.HOST are redirected (308) to HOST, or for HOST to www.HOST "
    "when the rule's host is the www one.",
}

# Settings that protect something: a bad value fails the routes closed.
_SECURITY = frozenset(
    {
        SSL_REDIRECT,
        SSL_TEMPORARY_REDIRECT,
        SSL_HOST,
        SSL_FORCE_HOST,
        SSL_PROXY_HEADERS,
        HSTS_MAX_AGE,
        HSTS_INCLUDE_SUBDOMAINS,
        HSTS_PRELOAD,
        FORCE_HSTS,
        FRAME_DENY,
        CUSTOM_FRAME_OPTIONS,
        CONTENT_TYPE_NOSNIFF,
        BROWSER_XSS_FILTER,
        CUSTOM_BROWSER_XSS,
        CONTENT_SECURITY_POLICY,
        REFERRER_POLICY,
        PUBLIC_KEY,
        ALLOWED_HOSTS,
        IS_DEVELOPMENT,
        NGINX_SSL_REDIRECT,
        NGINX_FORCE_SSL_REDIRECT,
    }
)

# Headers the proxy owns: framing and hop-by-hop headers in both directions, and on requests the
# Host (preserve-host / upstream-vhost choose it) and the forwarded headers (trusted-proxy rules).
_FRAMING = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_REQUEST_OWNED = _FRAMING | {
    "host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-real-ip",
}

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?$")
_MODIFIER = re.compile(r"^\s*(AddPrefix|ReplacePathRegex|ReplacePath)\s*:\s*(.*?)\s*$", re.DOTALL)
_PATH_MATCHERS: dict[str, PathType] = {"Path": PathType.EXACT, "PathPrefix": PathType.IMPLEMENTATION_SPECIFIC}


@dataclass(slots=True)
class RewritesResult:
    """The rewrite family of one Ingress: its Rewrites, path matcher, refusal and findings."""

    rewrites: Rewrites | None
    path_type: PathType | None  # router.pathmatcher, for paths without a pathType
    refusal: str  # non-empty: every route of the Ingress answers 503
    diagnostics: list[Diagnostic] = field(default_factory=list)
    path_regexp: bool = False  # router.pathmatcher PathRegexp (routing/path_regexp.py)


class _Reader(AnnotationReader):
    def __init__(self, ingress: Ingress, unsafe: frozenset[str]) -> None:
        # Keys holding control characters are errors already (and fail closed): read as absent.
        annotations = ingress.meta.annotations
        if unsafe:
            annotations = {k: v for k, v in annotations.items() if k not in unsafe}
        super().__init__(ingress, annotations)
        self.broken: list[str] = []  # security keys with bad values

    def invalid(self, key: str, problem: str, hint: str) -> None:
        self.bad(key, problem, hint)

    def bad(self, key: str, message: str, hint: str) -> None:
        security = key in _SECURITY
        if security:
            self.broken.append(key)
            message += "; every route of this Ingress answers 503 until it is fixed"
        else:
            message += "; ignored"
        self.report(key, message, hint, Severity.ERROR if security else Severity.WARNING)

    def note(self, key: str, message: str, hint: str) -> None:
        self.report(key, message, hint)

    def path(self, key: str) -> str | None:
        raw = self.text(key)
        if raw is None:
            return None
        if not _is_path(raw):
            self.bad(key, f"{raw!r} is not a path", 'Write a path starting with "/", e.g. "/app".')
            return None
        return raw

    def header_map(self, key: str, owned: frozenset[str] = frozenset()) -> tuple[HeaderEdit, ...]:
        """`Name: value||Name2: value2` (Traefik 1.7's map format); `owned` names are refused."""
        from ingressctl.model.rewrites import HeaderEdit

        raw = self.text(key)
        if raw is None:
            return ()
        edits: list[HeaderEdit] = []
        for item in raw.split("||"):
            if not item.strip():
                continue
            name, colon, value = item.partition(":")
            name = name.strip()
            if not colon or not HEADER_NAME.match(name):
                self.bad(
                    key,
                    f"{item.strip()!r} is not 'Header-Name: value'",
                    'Write "Name: value" pairs separated by "||", e.g. "X-Env: prod||X-Debug:".',
                )
                return ()
            if name.lower() in owned:
                self.bad(
                    key,
                    f"{name} is set by the proxy itself and cannot be changed here",
                    "Remove it (see preserve-host / upstream-vhost for the Host).",
                )
                return ()
            edits.append(HeaderEdit(name, value.strip()))
        return tuple(edits)


def _is_path(value: str) -> bool:
    """A path to send upstream: from "/", without spaces, query or fragment (they would be read as
    the target's query)."""
    return value.startswith("/") and not any(c in value for c in " ?#")


def _host_port(value: str) -> bool:
    match = _HOST_PORT.match(value)
    if match is None:
        return False
    port = match.group("port")
    return port is None or 0 < int(port) < 65536


def _absolute_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


RULE_TYPE_17 = T + "rule-type"
RULE_TYPE = "traefik.frontend.rule.type"
REDIRECT_ENTRY = T + "redirect-entry-point"

# Every key parse_rewrites reads. An Ingress with none of them gets the empty result without
# probing the fifty keys one by one (most Ingresses of a large input use none of this family);
# tests/routing/test_annotation_guards.py checks that no key read is missing here.
FAMILY_KEYS = frozenset(
    {
        *KNOWN_REWRITE_ANNOTATIONS,
        *_SECURITY,
        SSL_REDIRECT,
        REDIRECT_PERMANENT,
        RULE_TYPE_17,
        RULE_TYPE,
        REDIRECT_ENTRY,
    }
)


def parse_rewrites(ingress: Ingress, unsafe: frozenset[str] = frozenset()) -> RewritesResult:
    """The path, redirect and header annotations of `ingress`, typed; bad values are findings."""
    if FAMILY_KEYS.isdisjoint(ingress.meta.annotations):
        return RewritesResult(None, None, "")
    return read_rewrites(ingress, unsafe)


def read_rewrites(ingress: Ingress, unsafe: frozenset[str] = frozenset()) -> RewritesResult:
    """parse_rewrites without the FAMILY_KEYS shortcut (what the shortcut is tested against)."""
    from ingressctl.model.rewrites import Rewrites

    annotations = ingress.meta.annotations
    r = _Reader(ingress, unsafe)
    rule_type = annotations.get(RULE_TYPE_17, annotations.get(RULE_TYPE, "")).strip()
    replace_path = rule_type == "ReplacePath"
    path_type = None
    matcher = r.text(PATH_MATCHER)
    path_regexp = matcher == "PathRegexp"
    if matcher is not None and not path_regexp:
        path_type = _PATH_MATCHERS.get(matcher)
        if path_type is None:
            r.bad(PATH_MATCHER, f"{matcher!r} is not a path matcher", "Use Path, PathPrefix or PathRegexp.")
    security = _security(r)
    development = security is not None and security.is_development
    rewrites = Rewrites(
        allowed_hosts=() if development else _allowed_hosts(r),
        https_redirect=None if development else _https_redirect(r),
        tls_proxy_headers=tuple((e.name, e.value) for e in r.header_map(SSL_PROXY_HEADERS)),
        app_root=_app_root(r),
        regex_redirect=_regex_redirect(r),
        fixed_redirect=_fixed_redirect(r),
        rewrite_target=r.path(REWRITE_TARGET) or "",
        path_rewrites=_request_modifier(r),
        request_headers=_request_headers(r),
        response_headers=r.header_map(CUSTOM_RESPONSE_HEADERS, _FRAMING),
        security=security,
        pass_host_header=_pass_host(r),
        upstream_host=_upstream_host(r),
        replace_with_route_path=replace_path,
        www_redirect=bool(r.boolean(NGINX_FROM_TO_WWW)),
    )
    if rewrites.app_root is not None and (rewrites.regex_redirect or REDIRECT_ENTRY in r.values):
        r.note(
            APP_ROOT if APP_ROOT in r.values else NGINX_APP_ROOT,
            "on the `/` path, app-root replaces redirect-entry-point and redirect-regex (as in Traefik)",
            "Keep one redirect annotation, or expect the others only on the other paths.",
        )
    if rewrites.rewrite_target and replace_path:
        r.bad(
            REWRITE_TARGET,
            "rewrite-target cannot be combined with rule-type ReplacePath",
            "Keep one of them.",
        )
        rewrites = replace(rewrites, rewrite_target="")
    refusal = ""
    if r.broken:
        refusal = "bad security annotation value: " + ", ".join(sorted(set(r.broken)))
    empty = rewrites == Rewrites()
    return RewritesResult(None if empty else rewrites, path_type, refusal, r.diagnostics, path_regexp)


def _security(r: _Reader) -> SecurityHeaders | None:
    from ingressctl.model.rewrites import SecurityHeaders

    max_age = 0
    raw = r.text(HSTS_MAX_AGE)
    if raw is not None:
        if raw.isdigit():
            max_age = int(raw)
        else:
            r.bad(HSTS_MAX_AGE, f"{raw!r} is not a number of seconds", 'Write e.g. "31536000".')
    headers = SecurityHeaders(
        sts_seconds=max_age,
        sts_include_subdomains=bool(r.boolean(HSTS_INCLUDE_SUBDOMAINS)),
        sts_preload=bool(r.boolean(HSTS_PRELOAD)),
        force_sts=bool(r.boolean(FORCE_HSTS)),
        frame_deny=bool(r.boolean(FRAME_DENY)),
        custom_frame_options=r.text(CUSTOM_FRAME_OPTIONS) or "",
        content_type_nosniff=bool(r.boolean(CONTENT_TYPE_NOSNIFF)),
        browser_xss_filter=bool(r.boolean(BROWSER_XSS_FILTER)),
        custom_browser_xss=r.text(CUSTOM_BROWSER_XSS) or "",
        content_security_policy=r.text(CONTENT_SECURITY_POLICY) or "",
        referrer_policy=r.text(REFERRER_POLICY) or "",
        public_key=r.text(PUBLIC_KEY) or "",
        is_development=bool(r.boolean(IS_DEVELOPMENT)),
    )
    return None if headers == SecurityHeaders() else headers


def _allowed_hosts(r: _Reader) -> tuple[str, ...]:
    raw = r.text(ALLOWED_HOSTS)
    if raw is None:
        return ()
    hosts: list[str] = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        match = _HOST_PORT.match(item)
        name = match.group("host") if match is not None else item
        if (
            match is None
            or not _host_port(item)
            or (not is_ip_address(name.strip("[]")) and validate_host(name) is not None)
            or ("*" in name)
        ):
            r.bad(ALLOWED_HOSTS, f"{item!r} is not a host name", 'Write e.g. "example.com,www.example.com".')
            return ()
        hosts.append(item)
    if not hosts:
        r.bad(ALLOWED_HOSTS, "the list is empty", "Give the allowed hosts, or remove the annotation.")
    return tuple(hosts)


def _https_redirect(r: _Reader) -> HttpsRedirect | None:
    from ingressctl.model.rewrites import HttpsRedirect

    traefik = r.boolean(SSL_REDIRECT)
    temporary = r.boolean(SSL_TEMPORARY_REDIRECT)
    force_host = r.boolean(SSL_FORCE_HOST)
    host = r.text(SSL_HOST) or ""
    if host and not _host_port(host):
        r.bad(SSL_HOST, f"{host!r} is not a host[:port]", 'Write e.g. "secure.example.com".')
        host = ""
    nginx_force = r.boolean(NGINX_FORCE_SSL_REDIRECT)
    nginx = r.boolean(NGINX_SSL_REDIRECT)
    if traefik:
        permanent = r.boolean(REDIRECT_PERMANENT)
        status = 307 if temporary else (302 if permanent is False else 301)
        return HttpsRedirect(status, host, bool(force_host), source=SSL_REDIRECT)
    if host and force_host:
        # ssl-force-host without ssl-redirect: only requests for another host are redirected.
        status = 307 if temporary else 301
        return HttpsRedirect(status, host, True, plain=False, source=SSL_FORCE_HOST)
    if nginx_force:
        return HttpsRedirect(308, source=NGINX_FORCE_SSL_REDIRECT)
    if nginx:
        return HttpsRedirect(308, only_with_tls=True, source=NGINX_SSL_REDIRECT)
    return None


def _app_root(r: _Reader) -> AppRoot | None:
    from ingressctl.model.rewrites import AppRoot

    traefik = r.path(APP_ROOT)
    if traefik is not None:
        permanent = r.boolean(REDIRECT_PERMANENT)
        return AppRoot(traefik, 301 if permanent else 302)
    nginx = r.path(NGINX_APP_ROOT)
    return AppRoot(nginx, 302) if nginx is not None else None


def _regex_redirect(r: _Reader) -> RegexRedirect | None:
    from ingressctl.model.rewrites import RegexRedirect

    pattern = r.values.get(REDIRECT_REGEX)
    replacement = r.text(REDIRECT_REPLACEMENT)
    if pattern is None and replacement is None:
        return None
    if pattern is None or not pattern.strip() or not replacement:
        key = REDIRECT_REGEX if pattern is None or not pattern.strip() else REDIRECT_REPLACEMENT
        r.bad(key, "redirect-regex and redirect-replacement must be set together", "Set both, or neither.")
        return None
    try:
        regex = compile_user_regex(pattern.strip())
    except UserRegexError as exc:
        r.bad(REDIRECT_REGEX, str(exc), "Write an RE2 regular expression.")
        return None
    problem = check_replacement(regex, replacement)
    if problem:
        r.bad(REDIRECT_REPLACEMENT, problem, "Refer only to groups the regex has.")
        return None
    return RegexRedirect(pattern.strip(), replacement, bool(r.boolean(REDIRECT_PERMANENT)))


def _fixed_redirect(r: _Reader) -> FixedRedirect | None:
    from ingressctl.model.rewrites import FixedRedirect

    temporal = r.text(NGINX_TEMPORAL_REDIRECT)
    permanent = r.text(NGINX_PERMANENT_REDIRECT)
    code_text = r.text(NGINX_PERMANENT_REDIRECT_CODE)
    code = 301
    if code_text is not None:
        if code_text.isdigit() and 300 <= int(code_text) <= 308:
            code = int(code_text)
        else:
            r.note(
                NGINX_PERMANENT_REDIRECT_CODE,
                f"{code_text!r} is not a redirect status (300-308); 301 is used",
                'Write e.g. "308".',
            )
    for key, url, status in (
        (NGINX_TEMPORAL_REDIRECT, temporal, 302),
        (NGINX_PERMANENT_REDIRECT, permanent, code),
    ):
        if url is None:
            continue
        if not _absolute_url(url):
            r.bad(key, f"{url!r} is not an absolute http(s) URL", 'Write e.g. "https://www.example.com/".')
            continue
        return FixedRedirect(url, status, key)
    return None


def _request_modifier(r: _Reader) -> tuple[PathRewrite, ...]:
    from ingressctl.model.rewrites import PathRewrite, PathRewriteKind

    raw = r.values.get(REQUEST_MODIFIER)
    if raw is None:
        return ()
    hint = 'Write "AddPrefix: /x", "ReplacePath: /x" or "ReplacePathRegex: ^/a/(.*) /b/$1".'
    match = _MODIFIER.match(raw)
    if match is None:
        r.bad(REQUEST_MODIFIER, f"{raw.strip()!r} is not a request modifier", hint)
        return ()
    kind, argument = match.group(1), match.group(2)
    if kind == "ReplacePathRegex":
        pattern, _, replacement = argument.partition(" ")
        replacement = replacement.strip()
        if not pattern or not replacement:
            r.bad(REQUEST_MODIFIER, "ReplacePathRegex needs a regex and a replacement", hint)
            return ()
        try:
            regex = compile_user_regex(pattern)
        except UserRegexError as exc:
            r.bad(REQUEST_MODIFIER, str(exc), hint)
            return ()
        problem = check_replacement(regex, replacement)
        if problem:
            r.bad(REQUEST_MODIFIER, problem, hint)
            return ()
        return (PathRewrite(PathRewriteKind.REPLACE_PATH_REGEX, replacement, pattern, REQUEST_MODIFIER),)
    if not _is_path(argument):
        r.bad(REQUEST_MODIFIER, f"{argument!r} is not a path", hint)
        return ()
    kind_enum = PathRewriteKind.ADD_PREFIX if kind == "AddPrefix" else PathRewriteKind.REPLACE_PATH
    return (PathRewrite(kind_enum, argument, source=REQUEST_MODIFIER),)


def _request_headers(r: _Reader) -> tuple[HeaderEdit, ...]:
    from ingressctl.model.rewrites import HeaderEdit

    edits = list(r.header_map(CUSTOM_REQUEST_HEADERS, _REQUEST_OWNED))
    prefix = r.text(NGINX_X_FORWARDED_PREFIX)
    if prefix is not None:
        if prefix:
            edits.append(HeaderEdit("X-Forwarded-Prefix", prefix))
        else:
            r.bad(NGINX_X_FORWARDED_PREFIX, "the value is empty", 'Write the prefix, e.g. "/app".')
    return tuple(edits)


def _pass_host(r: _Reader) -> bool:
    for key in (PASS_HOST_HEADER, PRESERVE_HOST):
        value = r.boolean(key)
        if value is not None:
            return value
    return True


def _upstream_host(r: _Reader) -> str:
    raw = r.text(NGINX_UPSTREAM_VHOST)
    if raw is None:
        return ""
    if not _host_port(raw):
        r.bad(NGINX_UPSTREAM_VHOST, f"{raw!r} is not a host[:port]", 'Write e.g. "app.internal".')
        return ""
    return raw


def www_alias(host: str) -> str:
    """The other host of from-to-www-redirect: example.com ↔ www.example.com."""
    return host[4:] if host.startswith("www.") else "www." + host


def www_alias_rewrites(target: str) -> Rewrites:
    """The Rewrites of the route from-to-www-redirect adds: everything goes to `target`."""
    from ingressctl.model.rewrites import Rewrites

    return Rewrites(www_target=target)
