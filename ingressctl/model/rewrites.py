"""What a route changes about a request and its response: paths, redirects, headers, the Host.

Parsed by ingressctl.routing.annotations_rewrites from the Traefik 1.7, Traefik v2/v3 and
ingress-nginx spellings (one meaning, several spellings) and turned into middleware specs by
ingressctl.routing.chain_rewrites. Regular expressions are kept as the author wrote them; the
routing layer compiles them (RE2) and has already refused those it cannot match in linear time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PathRewriteKind(str, Enum):
    ADD_PREFIX = "add-prefix"  # request-modifier AddPrefix
    REPLACE_PATH = "replace-path"  # request-modifier ReplacePath, rule-type ReplacePath
    REPLACE_PATH_REGEX = "replace-path-regex"  # request-modifier ReplacePathRegex


@dataclass(frozen=True, slots=True)
class PathRewrite:
    kind: PathRewriteKind
    value: str = ""  # the prefix, the new path, or the replacement of a regex
    pattern: str = ""  # REPLACE_PATH_REGEX only
    source: str = ""  # the annotation it comes from, for people


@dataclass(frozen=True, slots=True)
class HeaderEdit:
    """Set `name` to `value`; an empty value removes the header (Traefik's custom headers).
    `append` (the Gateway API's `add`): the value is added to the header's values instead."""

    name: str
    value: str
    append: bool = False


@dataclass(frozen=True, slots=True)
class RegexRedirect:
    """redirect-regex + redirect-replacement: the whole URL (scheme://host/path?query) is matched."""

    pattern: str
    replacement: str
    permanent: bool


@dataclass(frozen=True, slots=True)
class FixedRedirect:
    """ingress-nginx permanent-redirect / temporal-redirect: every request goes to `url`."""

    url: str
    status: int
    source: str


@dataclass(frozen=True, slots=True)
class AppRoot:
    """Requests for `/` are redirected to `path` (Traefik and ingress-nginx app-root)."""

    path: str
    status: int  # 302, or 301 with Traefik's redirect-permanent


@dataclass(frozen=True, slots=True)
class HttpsRedirect:
    """Plain-HTTP requests are redirected to the https entrypoint (Traefik ssl-redirect and its
    ssl-* companions, ingress-nginx ssl-redirect / force-ssl-redirect)."""

    status: int  # 301 (308 for methods other than GET/HEAD), 307, or 308
    host: str = ""  # ssl-host: the redirect goes to this host instead of the request's
    force_host: bool = False  # ssl-force-host: TLS requests for another host are redirected too
    only_with_tls: bool = False  # ingress-nginx ssl-redirect: only hosts that have a TLS section
    plain: bool = True  # False (ssl-force-host alone): plain HTTP for ssl-host itself is not redirected
    source: str = ""


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """Traefik 1.7's security headers (the unrolled/secure middleware), parsed."""

    sts_seconds: int = 0
    sts_include_subdomains: bool = False
    sts_preload: bool = False
    force_sts: bool = False
    frame_deny: bool = False
    custom_frame_options: str = ""
    content_type_nosniff: bool = False
    browser_xss_filter: bool = False
    custom_browser_xss: str = ""
    content_security_policy: str = ""
    referrer_policy: str = ""
    public_key: str = ""
    is_development: bool = False

    def response_headers(self, over_tls: bool) -> tuple[tuple[str, str], ...]:
        """The headers every response gets; HSTS only over TLS unless forced, never in development."""
        out: list[tuple[str, str]] = []
        if self.sts_seconds > 0 and (over_tls or self.force_sts) and not self.is_development:
            value = f"max-age={self.sts_seconds}"
            if self.sts_include_subdomains:
                value += "; includeSubDomains"
            if self.sts_preload:
                value += "; preload"
            out.append(("Strict-Transport-Security", value))
        if self.custom_frame_options:
            out.append(("X-Frame-Options", self.custom_frame_options))
        elif self.frame_deny:
            out.append(("X-Frame-Options", "DENY"))
        if self.content_type_nosniff:
            out.append(("X-Content-Type-Options", "nosniff"))
        if self.custom_browser_xss:
            out.append(("X-XSS-Protection", self.custom_browser_xss))
        elif self.browser_xss_filter:
            out.append(("X-XSS-Protection", "1; mode=block"))
        if self.content_security_policy:
            out.append(("Content-Security-Policy", self.content_security_policy))
        if self.public_key and not self.is_development:
            out.append(("Public-Key-Pins", self.public_key))
        if self.referrer_policy:
            out.append(("Referrer-Policy", self.referrer_policy))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Rewrites:
    """Everything one Ingress's annotations change about its requests and responses."""

    # Hosts (lower case, no port) the routes answer for; others get 421. Empty: any.
    allowed_hosts: tuple[str, ...] = ()
    https_redirect: HttpsRedirect | None = None
    # Traefik: the request counts as TLS when one of these headers has this value (ssl-proxy-headers).
    tls_proxy_headers: tuple[tuple[str, str], ...] = ()
    app_root: AppRoot | None = None
    regex_redirect: RegexRedirect | None = None
    fixed_redirect: FixedRedirect | None = None
    rewrite_target: str = ""  # Traefik rewrite-target: the route's path is replaced by this
    # traefik.frontend.rule.type ReplacePath (Traefik 1.7): the path sent upstream is the route's path.
    replace_with_route_path: bool = False
    path_rewrites: tuple[PathRewrite, ...] = ()
    request_headers: tuple[HeaderEdit, ...] = ()
    response_headers: tuple[HeaderEdit, ...] = ()
    security: SecurityHeaders | None = None
    pass_host_header: bool = True  # False: the backend sees its own address as Host
    upstream_host: str = ""  # ingress-nginx upstream-vhost: the Host the backend sees
    # ingress-nginx from-to-www-redirect: the compiler adds a route for www.HOST (or HOST without www.)
    www_redirect: bool = False
    # Set on that added route only: every request is redirected (308) to this host.
    www_target: str = ""
