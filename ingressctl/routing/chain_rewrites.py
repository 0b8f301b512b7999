"""The middleware specs of a route's Rewrites (ingressctl.model.rewrites): allowed hosts, response and
security headers, the https redirect, app-root and the other redirects, request headers and the Host,
and the path rewrites. ingressctl.routing.chain puts them in its order; the proxy builds them
(ingressctl.proxy.plan_rewrites).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from ingressctl.model import Route
from ingressctl.model.rewrites import HeaderEdit, PathRewriteKind, Rewrites, SecurityHeaders
from ingressctl.routing.chain_spec import ChainSpec, Description
from ingressctl.routing.userregex import UserRegex, compile_user_regex, expand


def _edits(edits: tuple[HeaderEdit, ...]) -> list[str]:
    return [_edit(e) for e in edits]


def _edit(e: HeaderEdit) -> str:
    if e.append:
        return f"{e.name}: {e.value} (added)"
    return f"{e.name}: {e.value}" if e.value else f"{e.name} removed"


@dataclass(frozen=True, slots=True)
class AllowedHostsSpec(ChainSpec):
    """Answer 421 unless the Host header is one of `hosts` (Traefik's allowed-hosts)."""

    name: ClassVar[str] = "allowed-hosts"
    hosts: tuple[str, ...]

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": "421 unless the host is " + ", ".join(self.hosts),
            "hosts": list(self.hosts),
        }


@dataclass(frozen=True, slots=True)
class ResponseHeadersSpec(ChainSpec):
    """Set or remove response headers: custom-response-headers and the security headers."""

    name: ClassVar[str] = "response-headers"
    edits: tuple[HeaderEdit, ...]
    security: SecurityHeaders | None
    tls_headers: tuple[tuple[str, str], ...]  # ssl-proxy-headers: these say the request came over TLS

    def describe(self) -> Description:
        every: list[str] = []
        if self.security is not None:
            plain = {name for name, _ in self.security.response_headers(over_tls=False)}
            for name, value in self.security.response_headers(over_tls=True):
                every.append(f"{name}: {value}" + ("" if name in plain else " (over TLS)"))
        every += _edits(self.edits)
        return {"name": self.name, "effect": "response: " + "; ".join(every), "headers": every}


@dataclass(frozen=True, slots=True)
class HttpsRedirectSpec(ChainSpec):
    """Send plain-HTTP requests to the https entrypoint (ssl-redirect, force-ssl-redirect)."""

    name: ClassVar[str] = "redirect"
    entrypoint: ClassVar[str] = "https"
    status: int  # 301 means 301 for GET/HEAD and 308 for the others
    host: str
    force_host: bool
    plain: bool  # plain-HTTP requests are redirected (False: only those for another host)
    tls_headers: tuple[tuple[str, str], ...]
    source: str

    @property
    def label(self) -> str:
        return f"{self.name}->{self.entrypoint}"

    def describe(self) -> Description:
        status = "301/308" if self.status == 301 else str(self.status)
        where = self.host or "the same host"
        effect = f"{status} from plain HTTP to https://{where} (the https entrypoint's port)"
        if self.force_host and self.host:
            effect += f"; requests over TLS for another host than {self.host} too"
            if not self.plain:
                effect = f"{status} to https://{self.host} for requests for another host"
        return {
            "name": self.name,
            "effect": effect,
            "entrypoint": self.entrypoint,
            "status": self.status,
            "host": self.host,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class AppRootSpec(ChainSpec):
    """Redirect requests for `/` to the application's root path."""

    name: ClassVar[str] = "app-root"
    path: str
    status: int

    @property
    def label(self) -> str:
        return f"{self.name}({self.path})"

    def describe(self) -> Description:
        return {"name": self.name, "effect": f"{self.status} from / to {self.path}", "path": self.path}


@dataclass(frozen=True, slots=True)
class RegexRedirectSpec(ChainSpec):
    """Redirect when the whole URL matches: redirect-regex + redirect-replacement."""

    name: ClassVar[str] = "redirect-regex"
    regex: UserRegex
    replacement: str
    permanent: bool

    def describe(self) -> Description:
        status = "301/308" if self.permanent else "302"
        return {
            "name": self.name,
            "effect": f"{status} to {self.replacement} when the URL matches {self.regex.source}",
            "regex": self.regex.source,
            "replacement": self.replacement,
            "permanent": self.permanent,
        }


@dataclass(frozen=True, slots=True)
class FixedRedirectSpec(ChainSpec):
    """Redirect every request to one URL (ingress-nginx permanent-redirect / temporal-redirect)."""

    name: ClassVar[str] = "redirect-to"
    url: str
    status: int

    @property
    def label(self) -> str:
        return f"{self.name}({self.url})"

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"{self.status} to {self.url}",
            "url": self.url,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class WwwRedirectSpec(ChainSpec):
    """The route from-to-www-redirect adds for the other host: 308 to `host`, keeping the rest."""

    name: ClassVar[str] = "www-redirect"
    host: str

    @property
    def label(self) -> str:
        return f"{self.name}({self.host})"

    def describe(self) -> Description:
        return {"name": self.name, "effect": f"308 to {self.host}, same path and query", "host": self.host}


@dataclass(frozen=True, slots=True)
class RequestHeadersSpec(ChainSpec):
    """Set or remove headers of the request sent upstream, and choose the Host the backend sees."""

    name: ClassVar[str] = "request-headers"
    edits: tuple[HeaderEdit, ...]
    pass_host: bool  # False: Host is the upstream's address
    host: str  # non-empty: the Host the backend sees

    def describe(self) -> Description:
        every = _edits(self.edits)
        if self.host:
            every.append(f"Host: {self.host}")
        elif not self.pass_host:
            every.append("Host: the backend's address")
        return {"name": self.name, "effect": "upstream request: " + "; ".join(every), "headers": every}


@dataclass(frozen=True, slots=True)
class PathRewriteSpec(ChainSpec):
    """Change the path sent upstream; the old one goes in X-Replaced-Path (except for AddPrefix)."""

    name: ClassVar[str] = "path-rewrite"
    kind: PathRewriteKind
    value: str  # prefix, new path, or replacement
    regex: UserRegex | None
    source: str

    @property
    def label(self) -> str:
        return f"{self.kind.value}({self.value})"

    def describe(self) -> Description:
        if self.kind is PathRewriteKind.ADD_PREFIX:
            effect = f"adds {self.value} in front of the path"
        elif self.kind is PathRewriteKind.REPLACE_PATH:
            effect = f"replaces the path with {self.value}"
        else:
            assert self.regex is not None
            effect = f"replaces a path matching {self.regex.source} with {self.value}"
        out: Description = {"name": self.name, "effect": effect, "kind": self.kind.value, "value": self.value}
        if self.regex is not None:
            out["regex"] = self.regex.source
        out["source"] = self.source
        return out

    def apply(self, path: str) -> str | None:
        """The new path, or None when this rewrite does not apply to `path`."""
        if self.kind is PathRewriteKind.ADD_PREFIX:
            new = self.value.rstrip("/") + path
        elif self.kind is PathRewriteKind.REPLACE_PATH:
            new = self.value
        else:
            assert self.regex is not None
            found = self.regex.search(path)
            if found is None:
                return None
            start, end = found.start(), found.end()
            new = path[:start] + expand(found, self.value) + path[end:]
        return new if new.startswith("/") else "/" + new


RewriteSpec = (
    AllowedHostsSpec
    | ResponseHeadersSpec
    | HttpsRedirectSpec
    | AppRootSpec
    | RegexRedirectSpec
    | FixedRedirectSpec
    | WwwRedirectSpec
    | RequestHeadersSpec
    | PathRewriteSpec
)
FORWARDING_SPECS = (RequestHeadersSpec, PathRewriteSpec)


@lru_cache(maxsize=4096)
def _regex(pattern: str) -> UserRegex:
    # Patterns were compiled (and refused when bad) by the annotation parser already.
    return compile_user_regex(pattern)


def guard_specs(route: Route) -> list[RewriteSpec]:
    """What runs first: the allowed-hosts check, then the response headers (so that redirects and
    refusals further down the chain carry the security headers too)."""
    rw = route.middlewares.rewrites
    if rw is None:
        return []
    out: list[RewriteSpec] = []
    if rw.allowed_hosts:
        out.append(AllowedHostsSpec(rw.allowed_hosts))
    if rw.response_headers or rw.security is not None:
        out.append(ResponseHeadersSpec(rw.response_headers, rw.security, rw.tls_proxy_headers))
    return out


def https_redirect_spec(route: Route) -> HttpsRedirectSpec | None:
    rw = route.middlewares.rewrites
    if rw is None or rw.https_redirect is None:
        return None
    https = rw.https_redirect
    if https.only_with_tls and route.tls is None:
        return None  # ingress-nginx ssl-redirect: only hosts with a TLS section (or a default cert)
    return HttpsRedirectSpec(
        https.status, https.host, https.force_host, https.plain, rw.tls_proxy_headers, https.source
    )


def app_root_spec(route: Route) -> AppRootSpec | None:
    """app-root, on routes that serve `/` (where, as in Traefik, it replaces the other redirects)."""
    rw = route.middlewares.rewrites
    if rw is None or rw.app_root is None or route.path not in ("", "/"):
        return None
    return AppRootSpec(rw.app_root.path, rw.app_root.status)


def redirect_specs(route: Route) -> list[RewriteSpec]:
    rw = route.middlewares.rewrites
    if rw is None:
        return []
    out: list[RewriteSpec] = []
    if rw.www_target:
        out.append(WwwRedirectSpec(rw.www_target))
    if rw.regex_redirect is not None:
        r = rw.regex_redirect
        out.append(RegexRedirectSpec(_regex(r.pattern), r.replacement, r.permanent))
    if rw.fixed_redirect is not None:
        out.append(FixedRedirectSpec(rw.fixed_redirect.url, rw.fixed_redirect.status))
    return out


def request_specs(route: Route) -> list[RewriteSpec]:
    """Request headers and the Host, then the rewrites that replace the route's own path
    (rewrite-target, rule-type ReplacePath): they run before a strip-prefix."""
    rw = route.middlewares.rewrites
    if rw is None:
        return []
    out: list[RewriteSpec] = []
    if _has_request_edits(rw):
        out.append(RequestHeadersSpec(rw.request_headers, rw.pass_host_header, rw.upstream_host))
    prefix = route.path.rstrip("/")
    if route.is_default_backend:
        return out
    if rw.rewrite_target:
        regex = _regex("^" + re.escape(prefix) + "(.*)")
        target = rw.rewrite_target.rstrip("/")
        out.append(
            PathRewriteSpec(
                PathRewriteKind.REPLACE_PATH_REGEX,
                target + "$1",
                regex,
                "traefik.ingress.kubernetes.io/rewrite-target",
            )
        )
    elif rw.replace_with_route_path and route.path:
        out.append(
            PathRewriteSpec(PathRewriteKind.REPLACE_PATH, route.path, None, "traefik.frontend.rule.type")
        )
    return out


def modifier_specs(route: Route) -> list[RewriteSpec]:
    """request-modifier: after a strip-prefix (PathPrefixStrip + AddPrefix moves a prefix)."""
    rw = route.middlewares.rewrites
    if rw is None:
        return []
    out: list[RewriteSpec] = []
    for rewrite in rw.path_rewrites:
        regex = _regex(rewrite.pattern) if rewrite.kind is PathRewriteKind.REPLACE_PATH_REGEX else None
        out.append(PathRewriteSpec(rewrite.kind, rewrite.value, regex, rewrite.source))
    return out


def _has_request_edits(rw: Rewrites) -> bool:
    return bool(rw.request_headers or not rw.pass_host_header or rw.upstream_host)
